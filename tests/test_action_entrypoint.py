"""`entrypoint.py`: inputs as GitHub passes them, `fail-on`, outputs, requirements, setup errors.

The subprocess runs get a container action's exact environment; a broken setup is an error
(exit 2), never a pass. The gate's verdicts through the action are in test_action_publish.py.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from action_support import (
    ENTRYPOINT,
    action_env,
    action_inputs,
    checkout,
    parse_outputs,
    run_action,
    write_project,
)

TOKEN = "ghs_" + "NeverPrintMe" * 3
CONFIG = "checkpoint:\n  path: release/model.tar.gz\n"


def load_entrypoint():
    spec = importlib.util.spec_from_file_location("action_entrypoint", ENTRYPOINT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A checked-out branch (these tests stop before TensorFlow: see test_action_publish)."""
    return write_project(tmp_path / "workspace", 8, CONFIG)


def run(workspace: Path, tmp_path: Path, **inputs: str):
    event = {"pull_request": {"number": 7, "base": {"sha": checkout(workspace)}}}
    env = action_env(workspace, tmp_path / "runner-temp", inputs, TOKEN, event)
    result = run_action(workspace, env)
    assert TOKEN not in result.log, "the token was printed"
    return result


# --- inputs, defaults and fail-on (no TensorFlow) ---

def test_hyphenated_input_names_are_read_as_github_passes_them():
    inputs = load_entrypoint().read_inputs({
        "INPUT_FAIL-ON": "never", "INPUT_GITHUB-TOKEN": "t0k", "INPUT_MODE": "Check",
        "INPUT_REPORTS": "cpu/*.json\n gpu/*.json \n", "INPUT_COMMENT": "false",
    })
    assert (inputs.fail_on, inputs.token, inputs.mode) == ("never", "t0k", "check")
    assert inputs.reports == ["cpu/*.json", "gpu/*.json"]
    assert inputs.comment is False


def test_entrypoint_defaults_are_action_yml_defaults():
    """A `docker://` step gets no action.yml, so the entrypoint applies the same defaults."""
    defaults = {name: str(spec.get("default", "")) for name, spec in action_inputs().items()}
    assert defaults.pop("github-token") == "${{ github.token }}"
    ours = dict(load_entrypoint().DEFAULTS)
    assert ours.pop("github-token") == ""
    assert ours == defaults


@pytest.mark.parametrize(("code", "fail_on", "status"), [
    (0, "fail", 0), (1, "fail", 1), (2, "fail", 2),
    (0, "error", 0), (1, "error", 0), (2, "error", 2),
    (0, "never", 0), (1, "never", 0), (2, "never", 0),
])
def test_fail_on_decides_the_step_exit_code(code, fail_on, status):
    assert load_entrypoint().apply_fail_on(code, fail_on) == status


def test_outputs_use_a_delimiter_a_value_cannot_forge(tmp_path):
    out = tmp_path / "out"
    value = "line one\nEOF\nverdict=pass"
    load_entrypoint().Actions(output=out).set_outputs({"mismatches": value, "verdict": "fail"})
    assert parse_outputs(out.read_text()) == {"mismatches": value, "verdict": "fail"}


def test_an_unknown_input_value_is_an_error_even_with_fail_on_never(workspace, tmp_path):
    result = run(workspace, tmp_path, mode="chek", **{"fail-on": "never"})
    assert result.returncode == 2
    assert "::error title=restore-gate::input `mode` is 'chek'" in result.stdout
    assert result.outputs["verdict"] == "error"


def test_a_missing_config_is_an_error_verdict_and_fail_on_applies(workspace, tmp_path):
    result = run(workspace, tmp_path, mode="check", config="nope.yml")
    assert result.returncode == 2
    assert result.outputs["verdict"] == "error"
    assert "config file nope.yml not found" in result.summary
    relaxed = run(workspace, tmp_path / "again", mode="check", config="nope.yml",
                  **{"fail-on": "never"})
    assert relaxed.returncode == 0
    assert relaxed.outputs["verdict"] == "error"


def test_requirements_are_installed_before_the_check(workspace, tmp_path):
    (workspace / "requirements.txt").write_text("--no-index\npyyaml\n")
    result = run(workspace, tmp_path, mode="check", config="nope.yml", requirements=
                 "requirements.txt", **{"fail-on": "never"})
    assert "::group::pip install -r requirements.txt" in result.stdout
    assert "Requirement already satisfied: pyyaml" in result.log
    assert result.returncode == 0
    assert result.outputs["verdict"] == "error"  # the check still ran: it found no config


def test_requirements_that_do_not_install_stop_the_step_with_exit_2(workspace, tmp_path):
    (workspace / "requirements.txt").write_text("--no-index\nno-such-package-restore-gate==1\n")
    result = run(workspace, tmp_path, mode="check", requirements="requirements.txt",
                 **{"fail-on": "never"})
    assert result.returncode == 2
    assert "`pip install -r requirements.txt` failed" in result.stdout
    assert result.outputs["verdict"] == "error"
    assert not (workspace / "restore-gate-report.json").exists()  # no check ran


def test_inputs_map_to_cli_arguments_and_the_token_stays_off_them():
    from restore_gate.cli import parse

    entry = load_entrypoint()
    inputs = entry.read_inputs({"INPUT_CONFIG": "-odd.yml", "INPUT_CHECKPOINT": "release",
                                "INPUT_GITHUB-TOKEN": TOKEN, "INPUT_COMMENT": "false",
                                "INPUT_DEVICE": "auto"})
    check = entry.check_arguments(inputs, "a" * 40)
    args = parse(check)
    assert (str(args.config), args.checkpoint, args.device, args.base) == (
        "-odd.yml", "release", "auto", "a" * 40)
    publish = entry.publish_arguments(inputs, ["-cpu.json", "gpu.json"], "art/event.json")
    args = parse(publish)
    assert args.reports == [Path("-cpu.json"), Path("gpu.json")]
    assert (args.no_comment, str(args.event), str(args.config)) == (True, "art/event.json",
                                                                     "-odd.yml")
    assert not any(TOKEN in arg for arg in check + publish)


def test_base_commit_is_required_when_the_event_names_one(tmp_path, monkeypatch):
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "b")
    base = git("rev-parse", "HEAD")
    monkeypatch.chdir(tmp_path)
    event = tmp_path / "event.json"
    entry = load_entrypoint()
    event.write_text(json.dumps({"pull_request": {"base": {"sha": base}}}))
    assert entry.base_commit(str(event)) == base
    event.write_text(json.dumps({"pull_request": {"base": {"sha": "e" * 40}}}))
    with pytest.raises(entry.InputError, match="base commit eeeeeeeeeeee is not in the checkout"):
        entry.base_commit(str(event))  # fail closed: never the pull request's own settings
    event.write_text(json.dumps({"push": {}}))
    assert entry.base_commit(str(event)) is None
