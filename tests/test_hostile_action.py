"""Hostile branch code against the container action (issue 15, items 1, 4, 8, 9, 12).

Each test runs `entrypoint.py` as GitHub runs the container, on a real release bundle and a
real branch whose builder attacks the step: its exit status, its report, the job summary, the
environment it inherits and the runner's command files. Where the attack needs the privilege
drop (a builder running as `nobody`), the run happens as root in a private mount namespace
(test_hostile_host.py's `_run_dropped`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from action_support import action_env, release_bundle, run_action, write_project
from conftest import functional_model
from test_hostile_host import _run_dropped, needs_root, open_dirs  # noqa: F401 (a fixture)

from restore_gate.action.copied_report import UNVERIFIED, verify

TOKEN = "ghs_" + "NotForBranchCode" * 3


def _branch(workspace: Path, units: int, prelude: str) -> Path:
    """The branch: the release's model with `units` hidden units (8: as released, 16: a
    breaking change), whose model.py runs `prelude` when imported."""
    write_project(workspace, units, "checkpoint:\n  path: release.tar.gz\n")
    shutil.copyfile(release_bundle(), workspace / "release.tar.gz")
    (workspace / "model.py").write_text(prelude + "\n" + functional_model(units=units))
    return workspace


def _check(tmp_path: Path, prelude: str, units: int = 16):
    workspace = _branch(tmp_path / "workspace", units, prelude)
    env = action_env(workspace, tmp_path / "temp", {"mode": "check"}, TOKEN,
                     {"pull_request": {"number": 7}})
    return run_action(workspace, env), workspace, env


def _at_exit(body: str) -> str:
    """A prelude that, when the check's Python exits (after it wrote its report), runs `body`
    and then ends the process with status 0."""
    return ("import atexit, os\n"
            "REPORT = os.path.join(os.environ['HOME'], 'restore-gate-report.json')\n"
            "COMMENT = os.path.join(os.environ['HOME'], 'restore-gate-comment.md')\n"
            f"def _end():\n    {body}\n    os._exit(0)\n"
            "atexit.register(_end)\n")


# --- item 1: the verdict is the report's, judged here, not the child's exit status ---------------

def test_atexit_exit_0_after_a_fail_report_is_not_a_pass(tmp_path):
    """Attack: on a breaking change (8 → 16 units), the builder registers
    `atexit.register(lambda: os._exit(0))`: the check writes its honest `fail` report, then
    exits 0. The report judges fail, the status says pass: the step is an error."""
    result, workspace, _ = _check(tmp_path, _at_exit("pass"))
    assert json.loads((workspace / "restore-gate-report.json").read_text())["verdict"] == "fail"
    assert (result.returncode, result.outputs["verdict"]) == (2, "error"), result.log
    assert "exited 0, but its report" in result.stdout


def test_a_report_replaced_by_non_json_with_exit_0_is_an_error(tmp_path):
    """Attack: at exit, the builder overwrites the report with text that is not JSON and the
    comment with a fake pass (raw HTML, an image), then exits 0. The step is an error, and the
    job summary shows a fixed line, nothing of the child's comment (item 8)."""
    fake = "## ✅ restore-gate: pass <img src=https://evil.invalid/x.png> <b>all good</b>"
    body = (f"open(REPORT, 'w').write('pass, trust me')\n"
            f"    open(COMMENT, 'w').write({fake!r})")
    result, _, _ = _check(tmp_path, _at_exit(body))
    assert (result.returncode, result.outputs["verdict"]) == (2, "error"), result.log
    assert result.outputs["mismatches"] == ""
    assert "is not JSON" in result.stdout
    assert "✅" not in result.summary and "<img" not in result.summary
    assert "could not be verified" in result.summary


def test_a_schema_invalid_report_never_reaches_the_job_summary(tmp_path):
    """Attack (item 8): the report is JSON but not a report (`{"verdict": "pass"}`), the
    comment a fake pass in raw HTML. Before, the summary appended the comment verbatim."""
    body = ("open(REPORT, 'w').write('{\"verdict\": \"pass\"}')\n"
            "    open(COMMENT, 'w').write('<h1>✅ pass</h1><a href=https://evil.invalid>ok</a>')")
    result, _, _ = _check(tmp_path, _at_exit(body))
    assert (result.returncode, result.outputs["verdict"]) == (2, "error"), result.log
    assert result.summary == UNVERIFIED


def test_a_report_nested_200000_levels_deep_is_an_error_with_outputs(tmp_path):
    """Attack: the report becomes `{"a":{"a":…}}` 200,000 levels deep, exit 0. Before, the
    entrypoint died of an uncaught RecursionError (exit 1, no outputs)."""
    body = "open(REPORT, 'w').write('{\"a\":' * 200000 + '1' + '}' * 200000)"
    result, _, _ = _check(tmp_path, _at_exit(body))
    assert (result.returncode, result.outputs["verdict"]) == (2, "error"), result.log
    assert set(result.outputs) >= {"verdict", "report", "mismatches"}
    assert "Traceback" not in result.log


def test_verify_takes_the_verdict_from_the_report_not_the_exit_status(tmp_path):
    """The same rule without a check run: a real report of each verdict agrees only with its
    own exit code; a deep or non-strict file is an error with a reason, never a traceback."""
    from restore_gate.core.report import DriftEntry
    from restore_gate.pipeline.draft import ReportDraft

    path = tmp_path / "report.json"
    for verdict, code in (("pass", 0), ("fail", 1), ("error", 2)):
        report = ReportDraft(verdict=verdict)
        if verdict == "error":
            report.errors.append({"stage": "build", "message": "m", "hint": "h"})
        if verdict == "fail":
            report.drift.append(DriftEntry("metric", "loss", 1.0, 2.0, 1.0, "0.1", False))
        report.write(path)
        assert verify(path, code)[:2] == (code, json.loads(path.read_text()))
        assert [verify(path, other)[0] for other in {0, 1, 2} - {code}] == [2, 2]
    for text in ("[" * 200_000 + "]" * 200_000, '{"verdict": NaN}', "x" * 10):
        path.write_text(text)
        code, report, problem = verify(path, 0)
        assert (code, report) == (2, None) and "cannot be trusted" in problem


# --- item 4: branch code shares the check's process (documented, not closed) ---------------------

def test_a_builder_that_patches_the_judge_gets_the_outcome_the_readme_states(tmp_path):
    """Attack: the builder replaces `restore_gate.restore.restore.find_mismatches` by a
    function that finds nothing. The check's own process runs the branch's code, so this
    breaking change passes: docs/security.md says so (the verdict guards against accidental
    breaks and loosened settings, not against a malicious builder) and names the protection
    that works (required review of the builder's paths and the workflow)."""
    patch = ("import restore_gate.restore.restore\n"
             "restore_gate.restore.restore.find_mismatches = lambda *a, **k: []\n")
    result, _, _ = _check(tmp_path, patch)
    assert (result.returncode, result.outputs["verdict"]) == (0, "pass"), result.log
    section = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text(
        encoding="utf-8")
    assert "`restore_gate.restore.restore.find_mismatches`" in section
    assert "CODEOWNERS" in section


# --- item 9: the environment branch code gets is an allowlist -------------------------------------

SECRETS = ("WANDB_API_KEY", "OPENAI_API_KEY", "GH_PAT", "NPM_AUTH", "KAGGLE_KEY",
           "SSH_PRIVATE_KEY", "DATABASE_URL", "AZURE_STORAGE_CONNECTION_STRING", "GITHUB_TOKEN",
           "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL",
           "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "INPUT_GITHUB-TOKEN", "AWS_SECRET_ACCESS_KEY")
COMMAND_FILES = ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STATE",
                 "GITHUB_STEP_SUMMARY")
NEEDED = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC",
          "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "0",
          "NVIDIA_VISIBLE_DEVICES": "all", "PIP_INDEX_URL": "https://pypi.example/simple",
          "GITHUB_REPOSITORY": "octo/models", "GITHUB_EVENT_PATH": "/github/workflow/event.json"}


def test_secrets_in_the_runners_environment_do_not_reach_branch_code(tmp_path, monkeypatch):
    """Attack: the builder reads `os.environ` for the job's other secrets (a W&B key, a PAT, a
    database URL, ...) and for the runner's command files. Before, a denylist of names with
    TOKEN/SECRET/PASSWORD let all but the tokens through."""
    from restore_gate.action.sandbox import Sandbox

    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraheader",
                        "GIT_CONFIG_VALUE_0": "value-of-AUTHORIZATION: basic"}.items():
        monkeypatch.setenv(name, value)  # a checkout's credentials, handed to git by env
    for name in (*SECRETS, *COMMAND_FILES):
        monkeypatch.setenv(name, f"value-of-{name}")
    for name, value in NEEDED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    env = Sandbox(tmp_path, tmp_path / "home", None, None).environment({"EXTRA": "1"})
    crossed = [name for name in (*SECRETS, *COMMAND_FILES) if name in env]
    assert crossed == []
    assert not [v for v in env.values() if v.startswith("value-of-")]
    assert {k: env[k] for k in NEEDED} == NEEDED
    assert env["HOME"] == str(tmp_path / "home") and env["EXTRA"] == "1"
    assert (env["GIT_CONFIG_KEY_0"], env["GIT_CONFIG_VALUE_0"]) == ("safe.directory",
                                                                    str(tmp_path))


STORE_CREDENTIALS = (  # what the release stores (issue 18) read in the downloading process
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION",
    "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_GHA_CREDS_PATH", "GOOGLE_CLOUD_PROJECT",
    "CLOUDSDK_AUTH_ACCESS_TOKEN", "STORAGE_EMULATOR_HOST", "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT", "HF_HOME")


def test_release_store_credentials_do_not_reach_branch_code(tmp_path, monkeypatch):
    """Attack: the builder reads the cloud / registry credentials the job gave the gate to
    download the release (`check --fetch-only` runs in the root process; only the download
    needs them)."""
    from restore_gate.action.sandbox import Sandbox

    for name in STORE_CREDENTIALS:
        monkeypatch.setenv(name, f"value-of-{name}")
    monkeypatch.chdir(tmp_path)
    env = Sandbox(tmp_path, tmp_path / "home", None, None).environment()
    assert [name for name in STORE_CREDENTIALS if name in env] == []
    assert not [v for v in env.values() if v.startswith("value-of-")]


# --- item 12: the runner's command files are out of branch code's reach ---------------------------

def _write_command_files(paths: dict[str, str]) -> str:
    """A prelude appending to every command file it can open (paths known in advance: they are
    predictable on a runner), recording which writes succeeded."""
    lines = {"GITHUB_OUTPUT": "verdict=pass\n", "GITHUB_ENV": "LD_PRELOAD=/tmp/evil.so\n",
             "GITHUB_PATH": "/tmp/evil-bin\n", "GITHUB_STATE": "x=1\n",
             "GITHUB_STEP_SUMMARY": "## ✅ pass\n"}
    return ("import os\n"
            f"for _path, _line in {[(paths[k], v) for k, v in lines.items()]!r}:\n"
            "    try:\n"
            "        with open(_path, 'a') as _handle:\n"
            "            _handle.write(_line)\n"
            "    except OSError as _exc:\n"
            "        print('restore-gate-test: refused', _path, type(_exc).__name__)\n")


@needs_root
def test_a_builder_as_nobody_cannot_write_0666_command_files(open_dirs):  # noqa: F811
    """Attack: under act (or a self-hosted runner with a loose umask) the command files are
    0666; the builder, running as `nobody` in a workspace owned by the runner's uid (1001),
    appends `verdict=pass` to GITHUB_OUTPUT and
    `LD_PRELOAD=…` to GITHUB_ENV for later steps. While branch code runs they are 0600."""
    from test_hostile_host import _commit_all

    workspace, temp = open_dirs(), open_dirs()
    env = action_env(workspace, temp, {"mode": "check"}, TOKEN, extra={"GITHUB_TOKEN": TOKEN})
    for name in COMMAND_FILES:
        os.chmod(env[name], 0o666)
    _branch(workspace, 16, _write_command_files(env))
    base = _commit_all(workspace)
    subprocess.run(["chown", "-R", "1001:1001", str(workspace)], check=True)  # the runner's
    Path(env["GITHUB_EVENT_PATH"]).write_text(
        json.dumps({"pull_request": {"number": 7, "base": {"sha": base}}}))
    result = _run_dropped(workspace, env)
    assert result.stdout.count("restore-gate-test: refused") == 5, result.log
    assert (result.returncode, result.outputs["verdict"]) == (1, "fail"), result.log
    assert Path(env["GITHUB_ENV"]).read_text() == ""
    assert "✅" not in result.summary
    assert [os.stat(env[name]).st_mode & 0o777 for name in COMMAND_FILES] == [0o666] * 5


def test_a_command_file_changed_while_branch_code_ran_is_an_error_and_undone(tmp_path):
    """Attack: branch code that can write the command files (here it runs as root, as where the
    container cannot drop privileges) appends to GITHUB_ENV and GITHUB_OUTPUT. The change is
    found (content hash, size, mtime, inode), undone, and the step is an error."""
    workspace = tmp_path / "workspace"
    env = action_env(workspace, tmp_path / "temp", {"mode": "check"}, TOKEN,
                     {"pull_request": {"number": 7}})
    _branch(workspace, 8, _write_command_files(env))
    result = run_action(workspace, env)
    assert (result.returncode, result.outputs["verdict"]) == (2, "error"), result.log
    assert "GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH, GITHUB_STATE" in result.stdout
    assert Path(env["GITHUB_ENV"]).read_text() == Path(env["GITHUB_PATH"]).read_text() == ""
    assert "verdict=pass" not in Path(env["GITHUB_OUTPUT"]).read_text()
