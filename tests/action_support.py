"""Run `entrypoint.py` the way GitHub runs the container action, and read back what it wrote.

GitHub gives a container action every input of action.yml as `INPUT_<NAME>` (upper-cased,
hyphens kept), defaults filled in from action.yml (`${{ github.token }}` evaluated), plus the
`GITHUB_*` variables pointing at files in the runner's temp folder, with the workspace as cwd.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
ENTRYPOINT = REPO / "entrypoint.py"
ACTION = REPO / "action.yml"
TOKEN_EXPRESSION = "${{ github.token }}"


def action_inputs() -> dict:
    return yaml.safe_load(ACTION.read_text(encoding="utf-8"))["inputs"]


@dataclass
class ActionRun:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str

    @property
    def log(self) -> str:
        return self.stdout + self.stderr


def action_env(workspace: Path, runner_temp: Path, inputs: dict[str, str], token: str,
               event: dict | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Exactly the variables a container action's process gets (plus PATH/HOME/TF settings)."""
    runner_temp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("INPUT_", "GITHUB_", "GH_", "RUNNER_"))}
    for name, spec in action_inputs().items():
        value = inputs.get(name, spec.get("default", ""))
        env[f"INPUT_{name.upper()}"] = token if value == TOKEN_EXPRESSION else str(value)
    event_path = runner_temp / "event.json"
    event_path.write_text(json.dumps(event or {}), encoding="utf-8")
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV", "GITHUB_PATH",
                 "GITHUB_STATE"):
        path = runner_temp / name.lower()
        path.write_text("", encoding="utf-8")
        env[name] = str(path)
    env.update({
        "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_EVENT_PATH": str(event_path), "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_REPOSITORY": "octo/models", "GITHUB_API_URL": "https://api.github.invalid",
        "GITHUB_SERVER_URL": "https://github.invalid", "GITHUB_RUN_ID": "4242",
        "GITHUB_SHA": "0" * 40, "RUNNER_TEMP": str(runner_temp), "RUNNER_NAME": "test-runner",
        "CUDA_VISIBLE_DEVICES": "-1", "TF_CPP_MIN_LOG_LEVEL": "2",
        # The image drops branch code to its `restore-gate` user; here /root (the interpreter's
        # home) is closed to other users, so these runs keep root: test_hostile_host.py runs
        # the drop for real in a mount namespace.
        "RESTORE_GATE_USER": "",
    })
    env.update(extra or {})
    return env


def run_action(workspace: Path, env: dict[str, str], python: str = sys.executable,
               entrypoint: Path = ENTRYPOINT, timeout: float = 120) -> ActionRun:
    proc = subprocess.run([python, str(entrypoint)], cwd=workspace, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    return ActionRun(proc.returncode, proc.stdout, proc.stderr,
                     parse_outputs(Path(env["GITHUB_OUTPUT"]).read_text(encoding="utf-8")),
                     Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8"))


def parse_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT as the runner reads it: `name=value` lines and `name<<DELIM` heredocs."""
    outputs: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        heredoc = re.match(r"^([^=<]+)<<(.+)$", line)
        if heredoc:
            name, delimiter = heredoc.groups()
            end = lines.index(delimiter, i + 1)  # ValueError: an unterminated value
            outputs[name] = "\n".join(lines[i + 1:end])
            i = end + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
        i += 1
    return outputs


_RELEASE: dict[str, Path] = {}


def release_bundle() -> Path:
    """A real release bundle (tf.train.Checkpoint + manifest) of `functional_model(units=8)`,
    built once per test session (several test modules share it)."""
    if "bundle" not in _RELEASE:
        import atexit
        import shutil
        import tempfile

        import tensorflow as tf
        from conftest import Project, functional_model

        from restore_gate.commands.snapshot import snapshot
        from restore_gate.runtime import describe_device

        folder = Path(tempfile.mkdtemp(prefix="restore-gate-action-release-"))
        atexit.register(shutil.rmtree, folder, True)
        project = Project(folder / "repo")
        project.write("model.py", functional_model(units=8))
        model = project.build()
        model.optimizer.build(model.trainable_variables)
        prefix = tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(
            str(folder / "ckpt" / "ckpt"))
        bundle = folder / "model-1.0.0.tar.gz"
        snapshot(Path(prefix), bundle, describe_device("cpu"), project.root)
        _RELEASE["bundle"] = bundle
    return _RELEASE["bundle"]


def write_project(root: Path, units: int, checkpoint: str) -> Path:
    """The branch: the tiny model with `units` hidden units and a config naming `checkpoint`."""
    from conftest import Project, functional_model

    project = Project(root)
    project.write("model.py", functional_model(units=units))
    project.config(checkpoint)
    return root


def checkout(root: Path) -> str:
    """Make `root` a git checkout whose HEAD holds what it holds now, and return HEAD: the pull
    request's base commit in the events these tests send (the action reads the verdict-deciding
    settings from it and refuses to run without it)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              cwd=root, check=True, capture_output=True, text=True).stdout.strip()

    if not (root / ".git").exists():
        git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "--allow-empty", "-m", "base")
    return git("rev-parse", "HEAD")

