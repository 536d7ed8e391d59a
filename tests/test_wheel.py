"""The wheel as a user installs it: built from the project's files, installed into a fresh virtual
environment outside the repository, its `jaxae` command trains a shipped experiment found by name."""

import glob
import os
import shutil
import site
import subprocess
import sys

import pytest

from jaxae.config import experiments
from jaxae.errors import ConfigError
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = ("pyproject.toml", "README.md", "LICENSE", "jaxae", "configs")  # What the build reads.


def test_the_wheels_jaxae_command_trains_an_experiment_by_name_outside_the_repository(tmp_path):
    source = tmp_path / "source"  # A copy: building in the checkout would leave build/ and egg-info in it.
    source.mkdir()
    for name in SHIPPED:
        if os.path.isdir(os.path.join(ROOT, name)):
            shutil.copytree(os.path.join(ROOT, name), source / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif os.path.exists(os.path.join(ROOT, name)):
            shutil.copy(os.path.join(ROOT, name), source / name)
    # Offline: this environment's setuptools builds it, and the wheel alone is installed (its
    # dependencies, already here, are seen through a path file: nothing is downloaded).
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, capture_output=True)
    (wheel,) = glob.glob(str(tmp_path / "dist" / "jaxae-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", "--no-index", wheel], check=True, capture_output=True)
    (inner,) = glob.glob(str(venv / "lib" / "python*" / "site-packages"))
    # The dependencies after the wheel's own packages: a path line's folder is searched, its .pth files
    # (this checkout's editable install among them) are not read.
    with open(os.path.join(inner, "dependencies.pth"), "w") as paths:
        paths.write("\n".join(site.getsitepackages()) + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import jaxae; print(jaxae.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout
    assert where.startswith(inner), where  # The wheel's jaxae, not the checkout's.
    trained = subprocess.run([str(venv / "bin" / "jaxae"), "train", "--config", "vae_mnist:tiny", "--workdir", "run",
                              "--config.num_steps=4"], cwd=elsewhere, env=env, capture_output=True, text=True,
                             timeout=300)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "final eval:" in trained.stdout and (elsewhere / "run" / "checkpoints").is_dir()


def test_a_config_is_a_file_or_a_shipped_experiments_name(tmp_path):
    assert experiments.config_argument("vae_mnist:tiny") == experiments.path("vae_mnist") + ":tiny"
    mine = tmp_path / "mine.py"
    mine.write_text("")
    assert experiments.config_argument(f"{mine}:tiny") == f"{mine}:tiny"  # A file, as given.
    assert experiments.config_argument("configs/nowhere.py") == "configs/nowhere.py"  # load_config names it.
    (tmp_path / "vae_mnist").mkdir()  # A workdir named as the experiment: `jaxae train` again resumes it.
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        assert experiments.config_argument("vae_mnist") == experiments.path("vae_mnist")
    with pytest.raises(ConfigError, match="no experiment named 'vae_mnst'; did you mean 'vae_mnist'"):
        experiments.config_argument("vae_mnst")
