"""The action end to end against the loopback GitHub stand-in: `entrypoint.py` as a subprocess
with a container action's environment, the release downloaded from the stand-in's assets API.

Same repository: a breaking pull request gets one comment naming the layers and shapes (even
through two 502s on the write), exit 1, `verdict=fail`; fixed, the same comment is updated and
the step exits 0. Fork-safe split: `check` saves the report and the event; a `publish` step in a
`workflow_run` job with no checkout posts it, and refuses an event that names another pull
request than the commit the reports are about.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from action_support import action_env, checkout, release_bundle, run_action, write_project
from github_stub import GitHubStub

from restore_gate.present.markdown import MARKER

RELEASE_CONFIG = 'checkpoint:\n  release: {asset: "model-*.tar.gz"}\n'
PATH_CONFIG = "checkpoint:\n  path: release/model.tar.gz\n"
PR = 7
HEAD = "c0ffee" * 6 + "c0ff"


@pytest.fixture
def stub():
    with GitHubStub() as gh:
        gh.add_release("v1.0.0", {"model-1.0.0.tar.gz": release_bundle().read_bytes()})
        gh.add_pull(PR, head_sha=HEAD)
        yield gh


def pr_event(gh: GitHubStub, workspace: Path, number: int = PR) -> dict:
    return {"pull_request": {"number": number, "head": {"sha": gh.pull_head(number)},
                             "base": {"sha": checkout(workspace)}}}


def step(gh: GitHubStub, workspace: Path, temp: Path, event: dict, **inputs: str):
    """One action step; the token reaches it only as the `github-token` input's default."""
    env = action_env(workspace, temp, inputs, gh.token, event, extra={
        "GITHUB_API_URL": gh.base_url, "GITHUB_REPOSITORY": gh.repo,
        "RESTORE_GATE_HTTP_BACKOFF": "0.01", "RESTORE_GATE_CACHE": str(temp.parent / "cache"),
    })
    result = run_action(workspace, env)
    assert gh.token not in result.log, "the token was printed"
    return result


def test_breaking_then_fixed_pull_request_keeps_one_comment(stub, tmp_path):
    workspace = write_project(tmp_path / "workspace", 16, RELEASE_CONFIG)
    stub.fail("POST", r"/issues/\d+/comments$", status=502, times=2)

    broken = step(stub, workspace, tmp_path / "run1", pr_event(stub, workspace))
    assert broken.returncode == 1, broken.log
    assert broken.outputs["verdict"] == "fail"
    comments = stub.comments_on(PR)
    assert len(comments) == 1
    body = comments[0]["body"]
    assert MARKER in body
    assert "| ❌ `hidden` |" in body and "`kernel` 4×8 → 4×16 float32" in body
    assert broken.outputs["comment-url"] == comments[0]["html_url"]
    assert "shape hidden/kernel: checkpoint 4×8 float32, branch 4×16 float32" in (
        broken.outputs["mismatches"].splitlines())
    assert "::error file=model.py,line=" in broken.stdout  # annotation on the layer's line
    assert "`kernel` 4×8 → 4×16 float32" in broken.summary
    assert len(stub.store_requests) == 1  # the asset, downloaded once...

    write_project(workspace, 8, RELEASE_CONFIG)
    fixed = step(stub, workspace, tmp_path / "run2", pr_event(stub, workspace))
    assert fixed.returncode == 0, fixed.log
    assert fixed.outputs["verdict"] == "pass"
    after = stub.comments_on(PR)
    assert [c["id"] for c in after] == [comments[0]["id"]]
    assert "**pass**" in after[0]["body"]
    assert len(stub.store_requests) == 1  # ...and taken from the digest cache on the re-run


@pytest.fixture(scope="module")
def fork_check(tmp_path_factory):
    """The `pull_request` job of the split: `check` only (no GitHub needed: the bundle is a
    path here), then report + event uploaded as one artifact."""
    root = tmp_path_factory.mktemp("fork")
    workspace = write_project(root / "checkout", 16, PATH_CONFIG)
    (workspace / "release").mkdir()
    shutil.copyfile(release_bundle(), workspace / "release" / "model.tar.gz")
    event = {"pull_request": {"number": PR, "head": {"sha": HEAD},
                              "base": {"sha": checkout(workspace)}}}
    env = action_env(workspace, root / "temp", {"mode": "check"}, "ghs_ReadOnly" * 3, event,
                     extra={"GITHUB_API_URL": "http://127.0.0.1:9"})  # nothing listens there
    result = run_action(workspace, env)
    artifact = root / "artifact"
    artifact.mkdir()
    for name in ("restore-gate-report.json", "restore-gate-event.json"):
        shutil.copyfile(workspace / name, artifact / name)
    return result, workspace, artifact


def test_check_mode_writes_report_summary_outputs_and_event(fork_check):
    from restore_gate.core.report import validate_report

    result, workspace, _ = fork_check
    assert result.returncode == 1, result.log
    assert "ghs_ReadOnly" not in result.log
    assert result.outputs["verdict"] == "fail"
    assert result.outputs["report"] == "restore-gate-report.json"
    assert ("shape hidden/kernel: checkpoint 4×8 float32, branch 4×16 float32"
            in result.outputs["mismatches"].splitlines())
    assert result.outputs["comment-url"] == ""
    report = json.loads((workspace / "restore-gate-report.json").read_text())
    assert validate_report(report, "report")["verdict"] == "fail"
    assert "| ❌ `hidden` |" in result.summary and "`model.py:" in result.summary
    saved = json.loads((workspace / "restore-gate-event.json").read_text())
    assert saved["pull_request"]["number"] == PR
    # one set of stage lines: the download (as root) does not repeat the check's
    for stage in ("config", "fetch", "build"):
        assert result.log.count(f"restore-gate: {stage} ...") == 1, stage
    # the branch's names reach the log only between stop-commands and its resume token
    start = result.stdout.index("::stop-commands::")
    token = result.stdout[start:].split("\n", 1)[0].removeprefix("::stop-commands::")
    table = result.stdout.index("| ❌ `hidden` |")
    assert start < table < result.stdout.index(f"::{token}::")


@pytest.fixture
def fork_artifact(fork_check, tmp_path) -> Path:
    return Path(shutil.copytree(fork_check[2], tmp_path / "artifact"))


def workflow_run_event(gh: GitHubStub) -> dict:
    """A fork's run: `workflow_run.pull_requests` is empty; only head_sha is trusted."""
    return {"workflow_run": {"id": 99, "event": "pull_request", "pull_requests": [],
                             "head_sha": gh.pull_head(PR)}}


def publish_job(stub, fork_artifact: Path, tmp_path: Path, **inputs: str):
    workspace = tmp_path / "publish-workspace"  # no checkout: no pull request code at all
    workspace.mkdir()
    shutil.copytree(fork_artifact, workspace / "artifact")
    return step(stub, workspace, tmp_path / "publish-run", workflow_run_event(stub),
                mode="publish", reports="artifact/*-report.json", **inputs)


def test_fork_split_publishes_the_artifact_to_its_pull_request(stub, fork_artifact, tmp_path):
    result = publish_job(stub, fork_artifact, tmp_path)
    assert result.returncode == 1, result.log
    assert result.outputs["verdict"] == "fail"
    [comment] = stub.comments_on(PR)
    assert "| ❌ `hidden` |" in comment["body"]
    assert result.outputs["comment-url"] == comment["html_url"]


def test_fork_split_ignores_an_event_naming_another_pull_request(stub, fork_artifact, tmp_path):
    stub.add_pull(8)
    forged = fork_artifact / "restore-gate-event.json"
    forged.write_text(json.dumps(pr_event(stub, tmp_path, 8)))
    result = publish_job(stub, fork_artifact, tmp_path)
    assert stub.comments_on(8) == [] and stub.comments_on(PR) == []
    assert "not publishing to it" in result.log
    assert "no comment posted on #8: its head moved on" in result.log
    assert "not a pull request" not in result.log  # it is one: the refusal says why
    assert result.returncode == 1  # the verdict stands: publishing problems never change it
    assert result.outputs["verdict"] == "fail"


def test_publish_with_no_report_is_an_error(stub, tmp_path):
    workspace = tmp_path / "empty"
    workspace.mkdir()
    result = step(stub, workspace, tmp_path / "run", workflow_run_event(stub), mode="publish",
                  reports="artifact/*.json", **{"fail-on": "never"})
    assert result.returncode == 2
    assert "no report to publish" in result.stdout
    assert not stub.calls("POST")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="handing files over to another uid needs root, as in the container")
def test_check_leaves_only_its_report_files_owned_by_the_workspace_owner(stub, tmp_path):
    """A reused self-hosted runner must be able to clean the workspace: the root container
    writes nothing but the report files, and hands them to the workspace's owner."""
    workspace = write_project(tmp_path / "workspace", 8, RELEASE_CONFIG)
    event = pr_event(stub, workspace)
    runner_uid, runner_gid = 1001, 1001
    for path in [workspace, *workspace.rglob("*")]:
        os.chown(path, runner_uid, runner_gid)
    before = {p.relative_to(workspace) for p in workspace.rglob("*")}

    result = step(stub, workspace, tmp_path / "run", event, mode="check")
    assert result.outputs["verdict"] == "pass", result.log

    written = {p.relative_to(workspace) for p in workspace.rglob("*")} - before
    assert written == {Path("restore-gate-report.json"), Path("restore-gate-comment.md"),
                       Path("restore-gate-event.json")}
    assert not any(p.name == "__pycache__" for p in workspace.rglob("*"))
    for path in written:
        owner = (workspace / path).stat()
        assert (owner.st_uid, owner.st_gid) == (runner_uid, runner_gid), path
