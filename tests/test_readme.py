"""Every Python snippet of the README and of the docs/ pages runs as written, saved to a file, from
another directory."""

import os
import re
import subprocess
import sys

import pytest

from helpers import as_a_user_runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md"] + sorted(os.path.join("docs", name) for name in os.listdir(os.path.join(ROOT, "docs"))
                               if name.endswith(".md"))


def python_snippets():
    """(page, its code) for every ```python block of the README and the docs pages."""
    snippets = []
    for page in PAGES:
        with open(os.path.join(ROOT, page)) as text:
            snippets += [(page, code) for code in re.findall(r"```python\n(.*?)```", text.read(), re.S)]
    return snippets


def test_the_readme_and_the_docs_have_python_snippets():
    pages = {page for page, _ in python_snippets()}
    assert len(python_snippets()) >= 6 and "README.md" in pages and len(pages) >= 3


def test_the_readme_is_a_front_page():
    with open(os.path.join(ROOT, "README.md")) as readme:
        assert len(readme.read().splitlines()) <= 300


def test_every_relative_link_of_the_readme_and_the_docs_leads_somewhere():
    for page in PAGES:
        with open(os.path.join(ROOT, page)) as text:
            links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text.read())
        for link in links:
            assert os.path.exists(os.path.join(ROOT, os.path.dirname(page), link)), f"{page}: {link}"


@pytest.mark.parametrize("number", range(len(python_snippets())))
def test_readme_snippet_runs_from_a_file_in_another_directory(tmp_path, number):
    page, code = python_snippets()[number]
    script = tmp_path / f"snippet_{number}.py"
    script.write_text(code)
    environment = {**as_a_user_runs(), "PYTHONPATH": ""}  # Nothing from the checkout but what the install provides.
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=environment)
    assert done.returncode == 0, f"{page}: " + done.stderr[-3000:]


def test_the_extras_the_readme_names_exist():
    """`tensorboard --logdir runs` is advised: the viewer installs with an extra the README names."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later.
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as file:
        extras = tomllib.load(file)["project"]["optional-dependencies"]
    named = set()
    for page in PAGES:
        with open(os.path.join(ROOT, page)) as text:
            named |= set(re.findall(r"\.\[(\w+)\]", text.read()))  # '.[dev]', '.[bench]', ...
    assert "tensorboard" in named and named <= set(extras)
    assert any(requirement.startswith("tensorboard") for requirement in extras["tensorboard"])
