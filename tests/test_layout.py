"""The layout's rules hold: import-linter's contracts (pyproject.toml), no import cycle inside jaxae/,
every package installed, `configs` never imported by the library nor installed under that name, and
every shipped experiment reachable by name through `jaxae.get_config`."""

import ast
import re
import os
import subprocess
import sys

import pytest

import jaxae
from jaxae.config import experiments
from jaxae.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "jaxae")


def library_files():
    for folder, _, files in os.walk(PACKAGE):
        yield from (os.path.join(folder, name) for name in files if name.endswith(".py"))


def test_import_linter_contracts_are_kept():
    """Layers, the engine importing no family, families independent (pyproject.toml's contracts)."""
    lint = os.path.join(os.path.dirname(sys.executable), "lint-imports")
    done = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and " broken." in done.stdout and "0 broken" in done.stdout, done.stdout[-3000:]


def test_no_import_cycle_inside_the_library():
    """Function-level imports included: grimp's graph has no strongly connected component."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("jaxae")
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            assert not graph.chain_exists(importer=imported, imported=module), (module, imported)


def test_the_library_never_imports_configs_and_installs_no_package_of_that_name():
    for path in library_files():
        tree = ast.parse(open(path).read(), path)
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(name == "configs" or name.startswith("configs.") for name in names), path
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as file:
        setuptools = tomllib.load(file)["tool"]["setuptools"]
    packages = set(setuptools["packages"])
    on_disk = {os.path.relpath(folder, ROOT).replace(os.sep, ".") for folder, _, files in os.walk(PACKAGE)
               if "__init__.py" in files}
    assert on_disk | {"jaxae.experiments"} == packages  # Every package installs; none named configs.
    assert setuptools["package-dir"] == {"jaxae.experiments": "configs"}


def test_every_experiment_comes_by_name_and_a_wrong_name_is_one_line():
    on_disk = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "configs"))
                     if name.endswith(".py") and name != "__init__.py")
    assert experiments.names() == on_disk and len(on_disk) >= 20
    assert jaxae.get_config("vae_mnist", "tiny").num_steps == 20
    assert jaxae.get_config("conv_vae_mnist").model.architecture == "conv"  # Built on another experiment.
    with pytest.raises(ConfigError, match="no experiment named 'vae_mnst'; did you mean 'vae_mnist'"):
        jaxae.get_config("vae_mnst")


def test_the_public_api_names_resolve():
    for name in jaxae.__all__:
        assert getattr(jaxae, name) is not None, name
    with pytest.raises(AttributeError):
        jaxae.no_such_name


def test_every_experiment_says_its_command_and_the_figure_it_reaches():
    """Each config file's docstring gives the command that trains it and what it reaches, with the
    docs page that says how that was measured."""
    import ast

    for name in experiments.names():
        with open(experiments.path(name)) as file:
            doc = ast.get_docstring(ast.parse(file.read())) or ""
        assert f"python train.py --config configs/{name}.py --workdir" in doc, name
        page = re.search(r"docs/(\w+)\.md", doc)
        assert "reaches" in doc and page and os.path.exists(os.path.join(ROOT, "docs", page.group(1) + ".md")), name
