"""The command line as users expect it: help with an example for every subcommand, the
checkpoint given the same way everywhere, did-you-mean for a mistyped option, quiet output
(no TensorFlow start-up lines unless --verbose), stage lines with durations, a snapshot
summary, and a demo that says how to keep its files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, Project, functional_model, release_model, save_release

from restore_gate.cli import COMMANDS, EXAMPLES, main
from restore_gate.runtime import _STARTUP

COMMAND_NAMES = sorted(COMMANDS)


def python_m(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environment.update({"PYTHONPATH": str(REPO), **(env or {})})
    return subprocess.run([sys.executable, "-m", "restore_gate", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300, env=environment)


@pytest.mark.parametrize("command", COMMAND_NAMES)
def test_every_subcommand_has_help_and_an_example(command, capsys):
    from restore_gate.cli import _parser, _subparsers

    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    assert f"example:\n  {EXAMPLES[command]}\n" in capsys.readouterr().out
    sub = _subparsers(_parser())[command]
    undocumented = [a.dest for a in sub._actions if not a.help]
    assert not undocumented


def test_a_mistyped_option_gets_the_subcommands_usage_and_a_suggestion(tmp_path):
    result = python_m("check", "--chekpoint", "x.h5", "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: restore-gate check ")
    assert "unrecognized arguments: --chekpoint (did you mean --checkpoint?)" in result.stderr


@pytest.mark.parametrize("command", ["inspect", "snapshot", "migrate"])
def test_the_checkpoint_is_given_the_same_way(command, capsys):
    """`CHECKPOINT` or `--checkpoint CHECKPOINT` in every command; twice (differently) or not
    at all is a usage error naming the fix."""
    from restore_gate.cli import parse

    tail = [] if command == "inspect" else ["--out", "x"]
    assert parse([command, "a/ckpt", *tail]).checkpoint == "a/ckpt"
    assert parse([command, "--checkpoint", "a/ckpt", *tail]).checkpoint == "a/ckpt"
    with pytest.raises(SystemExit):
        parse([command, "a/ckpt", "--checkpoint", "b/ckpt", *tail])
    assert "the checkpoint is given twice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse([command, *tail])
    assert "give it as CHECKPOINT or --checkpoint PATH" in capsys.readouterr().err


def test_check_takes_the_checkpoint_positionally_too():
    from restore_gate.cli import parse

    assert parse(["check", "release/model.tar.gz"]).checkpoint == "release/model.tar.gz"
    assert parse(["check"]).checkpoint is None  # the config's checkpoint: decides


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("usage")
    return save_release(release_model(base), base / "ckpt", "tf-opt")


def plain_tensorflow_startup(tmp_path: Path) -> list[str]:
    """What importing TensorFlow prints on this machine, as a user sees it."""
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=300, env=environment)
    return [line for line in done.stderr.splitlines() if _STARTUP.match(line)]


def test_quiet_by_default_and_verbose_shows_tensorflow(release, project, tmp_path):
    project.write("model.py", functional_model())
    project.config()
    args = ("check", "--checkpoint", str(release))
    quiet = python_m(*args, cwd=project.root)
    assert quiet.returncode == 0, quiet.stderr
    assert not [line for line in quiet.stderr.splitlines() if _STARTUP.match(line)]
    for name in ("config", "fetch", "inspect", "build", "restore"):
        assert re.search(rf"^restore-gate: {name}: done in \d+\.\d s$", quiet.stderr, re.M)
    startup = plain_tensorflow_startup(tmp_path)
    if not startup:
        pytest.skip("TensorFlow prints no start-up line on this machine")
    loud = python_m(*args, "--verbose", cwd=project.root)
    assert loud.returncode == 0
    assert [line for line in loud.stderr.splitlines() if _STARTUP.match(line)]


def test_snapshot_ends_with_what_it_recorded(release, tmp_path, capsys):
    project = Project(tmp_path / "repo")
    project.write("model.py", functional_model())
    project.config()
    out = tmp_path / "bundle.tar.gz"
    cwd = Path.cwd()
    os.chdir(project.root)
    try:
        assert main(["snapshot", str(release), "--out", str(out)]) == 0
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert f"restore-gate: wrote {out} (" in err
    assert re.search(r"golden outputs: \d+ inputs × 1 output", err)
    assert "restore-gate: golden outputs and metrics: done in" in err
    assert "fingerprints:" in err


def test_the_demo_says_how_to_keep_its_files(tmp_path):
    from restore_gate.commands.demo import next_lines

    gone = " ".join(next_lines(tmp_path / "project", kept=False))
    assert "restore-gate demo --workdir DIR" in gone
    assert "restore_gate/example" in gone
    kept = " ".join(next_lines(tmp_path / "project", kept=True))
    assert f"cd {tmp_path / 'project'} && restore-gate check" in kept
