"""Every command of the README, the docs/ pages (in fenced shell blocks and inline `python ...` or
`pip ...` spans) and the config files' docstrings is checked as far as it goes without its compute:

- a train.py command: train.py's flags parse with nothing left over, its config file loads with
  its overrides, and the config passes `validate_config` (every field's check, train.py's first),
  in a folder where the files the command names exist and the page's earlier commands have left
  their runs;
- `python -m <module> <args>` (the benchmarks, jaxae.encode, jaxae.plot, ...): the module's own
  parser accepts the args (the long runs themselves are the benchmarks'; tests/test_benchmarks.py
  runs the suite and three more in their smoke modes); a module named without args imports;
- an install: the extras it names exist; the README's test command is the one CI runs.

The Python snippets run whole (tests/test_readme.py). A command of any other shape fails here until
a check for it is written."""

import argparse
import importlib
import inspect
import json
import os
import re
import shlex

import pytest

from jaxae.config import experiments
from jaxae.config.loading import config_from_command_line, split_overrides
from jaxae.config.validation import validate_config
from jaxae.runs.run_record import RECORD_FILE, config_to_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md"] + sorted(os.path.join("docs", name) for name in os.listdir(os.path.join(ROOT, "docs"))
                               if name.endswith(".md"))
SHELL = ("bash", "sh", "shell")
# Files a documented command reads that a user brings: made (empty) in the folder the commands run in.
USERS_FILES = ("ratings.csv", "my_corpus.txt", "corpus.txt", "customers.csv")
VARIABLES = {"RANK": "0"}  # Shell variables the commands use (a multi-host launcher's rank).
PYTHON = re.compile(r"^(?:\.venv/bin/)?python3?$")
# A fenced block, or an inline span that is a command.
BLOCK_OR_SPAN = re.compile(r"```(\w*)\n(.*?)```|`((?:\.venv/bin/)?(?:python3?|pip)(?: [^`\n]*)?|jaxae \w+ --[^`\n]*)`", re.S)


def blocks():
    """(page, language, code) of every fenced block of the README and the docs pages, and of every
    inline command span (language 'inline'), in the order of the page."""
    found = []
    for page in PAGES:
        with open(os.path.join(ROOT, page)) as text:
            for match in BLOCK_OR_SPAN.finditer(text.read()):
                language, code, span = match.groups()
                found.append((page, "inline", span) if span else (page, language, code))
    return found


def commands(code: str) -> list[list[str]]:
    """The commands of a shell block, each as its words: continued lines joined, comments dropped,
    `a && b` split in two, shell variables replaced by `VARIABLES`."""
    found = []
    for line in code.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        words = [re.sub(r"\$(\w+)", lambda match: VARIABLES[match.group(1)], word) for word in words]
        while words:
            end = words.index("&&") if "&&" in words else len(words)
            found.append(words[:end])
            words = words[end + 1:]
    return found


def shell_blocks():
    return [(page, code) for page, language, code in blocks() if language in SHELL + ("inline",)]


def test_every_block_is_python_shell_or_output_and_commands_hide_in_none():
    for page, language, code in blocks():
        assert language in ("", "python", "text", "inline") + SHELL, f"{page}: a ```{language} block no test reads"
        if language in ("", "text"):  # Output and diagrams: no line may be a command to run.
            assert not re.search(r"^\s*(\.venv/bin/)?(python3?|pip) ", code, re.M), f"{page}: a command in an output block"
    assert len(shell_blocks()) >= 15


def test_the_readmes_test_command_is_the_one_ci_runs():
    with open(os.path.join(ROOT, ".ci", "run")) as ci, open(os.path.join(ROOT, "README.md")) as readme:
        ci_command = ci.read().strip().splitlines()[-1]
        assert ci_command in readme.read()
    assert commands(ci_command)[-1] == [".venv/bin/python", "-m", "pytest"]


class _Parsed(Exception):
    """Raised where a module would start its work: its arguments were accepted."""


def check_module(words: list[str]) -> None:
    """`python -m <module> <args>`: the module's own parser accepts the args (a module named without
    args: it imports)."""
    module = importlib.import_module(words[2])
    if len(words) == 3:
        return
    real_parse = argparse.ArgumentParser.parse_args

    def parse_then_stop(parser, args=None, namespace=None):
        real_parse(parser, args, namespace)
        raise _Parsed

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
        patch.setattr("sys.argv", words[2:])
        try:
            with pytest.raises(_Parsed):
                module.main(words[3:]) if inspect.signature(module.main).parameters else module.main()
        except SystemExit as error:  # argparse's exit on arguments it does not know.
            raise AssertionError(f"{shlex.join(words)}: the module's parser refused its arguments") from error


def check_train(words: list[str]) -> None:
    """`python train.py ...`: train.py's flags parse with nothing left over, the config loads with its
    overrides and passes `validate_config`; a relative workdir then stands in for the run the command
    makes (its run record), so that a later command of the page may start from it (`cluster.init_from`).
    An absolute one (a cluster's shared disk) is not written."""
    import train  # The launcher at the checkout's root; its flags are absl's global ones.

    rest, overrides = split_overrides(words[1:])
    flags = train.flags.FLAGS
    flags.unparse_flags()  # Defaults again: a flag an earlier command set must not stand in for a missing one.
    assert flags(["train.py"] + rest) == ["train.py"], f"{shlex.join(words)}: train.py takes no positional arguments"
    path, _, variant = flags.config.partition(":")
    named = not os.path.exists(os.path.join(ROOT, path)) and "/" not in path  # A shipped experiment's name.
    argument = experiments.config_argument(flags.config) if named else \
        os.path.join(ROOT, path) + (f":{variant}" if variant else "")
    config = config_from_command_line(argument, overrides)
    validate_config(config)
    workdir = flags.workdir
    if os.path.isabs(workdir):
        return
    os.makedirs(os.path.join(workdir, "checkpoints"), exist_ok=True)
    with open(os.path.join(workdir, RECORD_FILE), "w") as record:
        json.dump({"config": config_to_json(config)}, record)


def check_command(words: list[str]) -> str:
    """Checks one command; returns its kind, or fails for a command of a shape nothing checks."""
    if words[0] == "srun":  # SLURM's launcher runs the rest on every task.
        words = words[1:]
    if words[0] == "gcloud":  # A remote shell: the command it sends is checked.
        sent = words[words.index("--command") + 1]
        return "remote: " + ", ".join(check_command(inner) for inner in commands(sent))
    if words[0] == "cd" or words[:3] == ["python3", "-m", "venv"]:
        return "shell"
    if re.match(r"^(\.venv/bin/)?pip$", words[0]) and words[1] == "install":
        return check_install(words)
    if PYTHON.match(words[0]) and words[1:2] == ["train.py"]:
        check_train(words[1:])
        return "train"
    if PYTHON.match(words[0]) and words[1:3] == ["-m", "pytest"]:
        return "tests"
    if PYTHON.match(words[0]) and words[1:3] == ["-m", "jaxae"]:  # The jaxae command, without its script.
        return check_command(["jaxae", *words[3:]])
    if PYTHON.match(words[0]) and words[1:2] == ["-m"] and words[2].startswith(("benchmarks.", "jaxae.")):
        check_module(words)
        return "module"
    if words[:2] == ["tfds", "build"]:
        return check_tfds_build(words)
    if words[0] == "jaxae":  # The installed command: train.py's launcher, or a tool's module.
        from jaxae.cli import TOOLS

        assert len(words) > 1 and words[1] in TOOLS, f"{shlex.join(words)}: jaxae has no such command"
        if words[1] == "train":
            check_train(["train.py", *words[2:]])
            return "train"
        check_module(["python", "-m", TOOLS[words[1]], *words[2:]])
        return "module"
    raise AssertionError(f"{shlex.join(words)}: a documented command of a shape no test checks")


def check_tfds_build(words: list[str]) -> str:
    """tfds' own preparation of a data set it knows, in the one file format jaxae reads."""
    import tensorflow_datasets as tfds

    name, *flags = words[2:]
    tfds.builder_cls(name)  # A name tfds does not know raises here.
    assert "--file_format=array_record" in flags, f"{shlex.join(words)}: jaxae reads array_record files only"
    unknown = [flag for flag in flags if flag.split("=")[0] not in ("--file_format", "--data_dir")]
    assert not unknown, f"{shlex.join(words)}: flags {unknown} are not ones the docs explain"
    return "tfds build"


def check_install(words: list[str]) -> str:
    """An install of the checkout with extras that exist, or of a package the code names."""
    import tomllib

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as file:
        extras = set(tomllib.load(file)["project"]["optional-dependencies"])
    targets = [word for word in words[2:] if not word.startswith("-")]
    for target in targets:
        if target.startswith("."):
            named = set(re.findall(r"\w+", target.removeprefix(".")))
            assert named <= extras, f"{shlex.join(words)}: no extra {sorted(named - extras)}"
        else:  # A data wheel (recbole's MovieLens-100K): the library names it where it reads it.
            sources = [os.path.join(folder, name) for folder, _, names in os.walk(os.path.join(ROOT, "jaxae"))
                       for name in names if name.endswith(".py")]
            assert any(target in open(source).read() for source in sources), f"{shlex.join(words)}: jaxae never names {target}"
    return "install"


@pytest.mark.parametrize("page", sorted({page for page, _ in shell_blocks()}))
def test_every_documented_command_is_checked(page, tmp_path, monkeypatch):
    """A page's commands in order, in one folder: a later one may start from a run an earlier one made."""
    monkeypatch.chdir(tmp_path)  # Workdirs and the user's files are relative to where the commands run.
    for name in USERS_FILES:
        (tmp_path / name).write_text("")
    for code in [code for at, code in shell_blocks() if at == page]:
        kinds = [check_command(words) for words in commands(code)]
        assert kinds, f"{page}: an empty shell block"


def test_every_command_of_a_config_files_docstring_is_checked(tmp_path, monkeypatch):
    import ast

    from jaxae.config import experiments

    monkeypatch.chdir(tmp_path)
    for name in experiments.names():
        with open(experiments.path(name)) as file:
            doc = ast.get_docstring(ast.parse(file.read())) or ""
        found = re.findall(r"^\s*((?:\.venv/bin/)?(?:python3?|pip) .*)$", doc, re.M)
        for line in found:
            for words in commands(line):
                check_command(words)
        assert found, f"{name}: its docstring gives no command"
