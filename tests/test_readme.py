"""Every Python snippet of the README runs as written, saved to a file, from another directory."""

import os
import re
import subprocess
import sys

import pytest

from reliability_helpers import as_a_user_runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python_snippets():
    with open(os.path.join(ROOT, "README.md")) as readme:
        return re.findall(r"```python\n(.*?)```", readme.read(), re.S)


def test_the_readme_has_python_snippets():
    assert len(python_snippets()) >= 3


@pytest.mark.parametrize("number", range(len(python_snippets())))
def test_readme_snippet_runs_from_a_file_in_another_directory(tmp_path, number):
    script = tmp_path / f"snippet_{number}.py"
    script.write_text(python_snippets()[number])
    environment = {**as_a_user_runs(), "PYTHONPATH": ""}  # Nothing from the checkout but what the install provides.
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=environment)
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_extras_the_readme_names_exist():
    """`tensorboard --logdir runs` is advised: the viewer installs with an extra the README names."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later.
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as file:
        extras = tomllib.load(file)["project"]["optional-dependencies"]
    with open(os.path.join(ROOT, "README.md")) as readme:
        named = set(re.findall(r"\.\[(\w+)\]", readme.read()))  # '.[dev]', '.[bench]', ...
    assert "tensorboard" in named and named <= set(extras)
    assert any(requirement.startswith("tensorboard") for requirement in extras["tensorboard"])
