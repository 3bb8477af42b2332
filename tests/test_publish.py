"""`restore-gate publish` against the loopback GitHub: one sticky comment, outputs, failures."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from github_stub import GitHubStub, clean_environ, github_fixture  # noqa: F401  (fixture)

from restore_gate.cli import main
from restore_gate.core.report import Mismatch, TensorSpec
from restore_gate.pipeline.draft import ReportDraft
from restore_gate.present.markdown import MARKER

PR = 7


def make_report(mismatches: list[Mismatch] = (), device: str = "CPU", tf: str = "2.21.0",
                errors: list[dict] = ()) -> dict:
    report = ReportDraft(runner={"name": "runner", "device": device, "device_name": "",
                            "python": "3.11.7", "tensorflow": tf, "keras": "3.15.0"},
                    checkpoint={"source": "octo/models v1.0: model-1.0.tar.gz",
                                "format": "tf-checkpoint", "variables": 4},
                    model={"builder": "model:build", "variables": 4},
                    mismatches=list(mismatches), errors=list(errors))
    report.decide()
    return report.to_dict()


def shape(name: str = "hidden/kernel", layer: str = "hidden", found=(4, 16), line: int = 7):
    return Mismatch("shape", name, layer, checkpoint=TensorSpec([4, 8], "float32"),
                    model=TensorSpec(list(found), "float32"), source=f"model.py:{line}",
                    hint="give the layer back its width or release a new checkpoint")


BREAKING = [shape(), shape("out/kernel", "out", (16, 3), 9)]


@pytest.fixture
def run(github, tmp_path, monkeypatch):
    """Write reports, run `publish` in-process in an Actions-like environment."""
    github.add_pull(PR)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    env = github.env(pr=PR, event_path=tmp_path / "event.json")
    monkeypatch.setenv("GITHUB_EVENT_PATH", env["GITHUB_EVENT_PATH"])

    def publish(*reports: dict, args: tuple[str, ...] = ()) -> int:
        paths = []
        for i, report in enumerate(reports):
            paths.append(tmp_path / f"report-{i}.json")
            paths[-1].write_text(json.dumps(report), encoding="utf-8")
        for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
            path = tmp_path / name.lower()
            path.write_text("")
            monkeypatch.setenv(name, str(path))
        return main(["publish", *map(str, paths), *args])

    return publish


def outputs(tmp_path: Path) -> dict[str, str]:
    text = (tmp_path / "github_output").read_text(encoding="utf-8")
    values, lines = {}, iter(text.splitlines())
    for line in lines:
        name, _, delimiter = line.partition("<<")
        body = []
        for item in lines:
            if item == delimiter:
                break
            body.append(item)
        values[name] = "\n".join(body)
    return values


def test_breaking_then_fixed_report_is_one_comment_updated_in_place(run, github, tmp_path):
    assert run(make_report(BREAKING)) == 1
    [comment] = github.comments_on(PR)
    body = comment["body"]
    assert body.startswith(MARKER) and "**fail**" in body
    blob = f"https://github.com/octo/models/blob/{github.pull_head(PR)}/model.py"
    assert (f"| ❌ `hidden` | shape · fix 1 | `kernel` 4×8 → 4×16 float32 | "
            f"[`model.py:7`]({blob}#L7) |") in body
    assert (f"| ❌ `out` | shape · fix 1 | `kernel` 4×8 → 16×3 float32 | "
            f"[`model.py:9`]({blob}#L9) |") in body
    values = outputs(tmp_path)
    assert values["verdict"] == "fail" and values["comment-url"] == comment["html_url"]
    assert "shape hidden/kernel: checkpoint 4×8 float32, branch 4×16 float32" in (
        values["mismatches"].splitlines())
    assert "hidden/kernel" in (tmp_path / "github_step_summary").read_text(encoding="utf-8")

    assert run(make_report()) == 0
    [updated] = github.comments_on(PR)
    assert updated["id"] == comment["id"] and "**pass**" in updated["body"]
    assert outputs(tmp_path)["verdict"] == "pass" and outputs(tmp_path)["mismatches"] == ""
    assert len(github.calls("POST")) == 1 and len(github.calls("PATCH")) == 1


@pytest.mark.parametrize("applied", [False, True])
def test_two_502s_on_create_still_leave_one_comment(run, github, applied):
    github.fail("POST", r"/comments$", status=502, times=2, applied=applied)
    assert run(make_report(BREAKING)) == 1
    assert len(github.comments_on(PR)) == 1
    assert len(github.calls("POST")) == (1 if applied else 3)


def test_two_502s_on_update_still_leave_one_comment(run, github):
    run(make_report(BREAKING))
    github.fail("PATCH", r"/comments/\d+$", status=502, times=2)
    assert run(make_report()) == 0
    [comment] = github.comments_on(PR)
    assert "**pass**" in comment["body"]
    assert [r.status for r in github.calls("PATCH")] == [502, 502, 200]


def test_own_comment_is_found_on_page_two_among_others(run, github):
    for i in range(110):
        github.add_comment(PR, f"review chatter {i}", login=f"user{i % 7}")
    github.add_comment(PR, f"{MARKER}\nfake verdict", login="mallory")  # a decoy: not ours
    mine = github.add_comment(PR, f"{MARKER}\nold verdict", login="github-actions[bot]")
    assert run(make_report(BREAKING)) == 1
    pages = github.calls("GET", r"/issues/\d+/comments$")
    assert len(pages) == 2 and pages[1].query.get("page") == "2"
    assert not github.calls("POST")
    assert "hidden/kernel" in mine["body"]
    assert github.comments_on(PR)[-2]["body"] == f"{MARKER}\nfake verdict"


def test_duplicate_sticky_comments_left_by_an_older_run_are_deleted(run, github):
    """Two of our marker comments (an older run's race): the first is updated with the new
    verdict, the other (a stale verdict) is deleted, so one comment remains."""
    github.add_comment(PR, "review chatter", login="alice")
    first = github.add_comment(PR, f"{MARKER}\nold verdict: **pass**",
                               login="github-actions[bot]")
    stale = github.add_comment(PR, f"{MARKER}\nstale verdict: **pass**",
                               login="github-actions[bot]")
    assert run(make_report(BREAKING)) == 1
    ours = [c for c in github.comments_on(PR) if MARKER in c["body"]]
    assert [c["id"] for c in ours] == [first["id"]]
    assert "**fail**" in ours[0]["body"] and "hidden/kernel" in ours[0]["body"]
    assert [r.path.rsplit("/", 1)[-1] for r in github.calls("DELETE")] == [str(stale["id"])]
    assert not github.calls("POST")


@pytest.mark.parametrize("status, posts", [(500, 2), (422, 1), (404, 1)])
def test_only_a_server_error_on_create_is_retried(run, github, capsys, status, posts):
    """A 5xx (from 500) may have been applied: searched again, then retried; a 4xx is final
    (a warning) and never repeated."""
    github.fail("POST", r"/comments$", status=status, times=1)
    assert run(make_report(BREAKING)) == 1
    assert len(github.calls("POST")) == posts
    assert len(github.comments_on(PR)) == (1 if status >= 500 else 0)
    assert ("::warning" in capsys.readouterr().out) == (status < 500)


@pytest.mark.parametrize("failures, comments", [(3, 1), (4, 0)])
def test_create_is_tried_four_times_then_a_warning(run, github, capsys, failures, comments):
    github.fail("POST", r"/comments$", status=502, times=failures)
    assert run(make_report(BREAKING)) == 1  # publishing problems never change the verdict
    assert len(github.calls("POST")) == 4
    assert len(github.comments_on(PR)) == comments
    warnings = [line for line in capsys.readouterr().out.splitlines() if "::warning" in line]
    assert len(warnings) == (0 if comments else 1)
    assert all("502" in line for line in warnings), warnings  # GitHub's answer, named


def test_a_duplicate_that_cannot_be_deleted_leaves_the_update_in_place(run, github, capsys):
    first = github.add_comment(PR, f"{MARKER}\nold", login="github-actions[bot]")
    github.add_comment(PR, f"{MARKER}\nstale", login="github-actions[bot]")
    github.fail("DELETE", r"/comments/\d+$", status=403, times=1)
    assert run(make_report(BREAKING)) == 1
    assert "**fail**" in github.comments_on(PR)[0]["body"]
    assert github.comments_on(PR)[0]["id"] == first["id"]
    assert "::warning" not in capsys.readouterr().out  # the comment is right: nothing to warn


def test_comment_over_the_limit_is_trimmed_and_accepted(run, github, tmp_path):
    many = [shape(f"block_{i}/" + "very_long_variable_name_" * 12, f"block_{i}", line=i + 1)
            for i in range(600)]
    assert run(make_report(many)) == 1
    [comment] = github.comments_on(PR)
    assert len(comment["body"]) <= 65536
    assert "Trimmed to fit" in comment["body"] and "job summary" in comment["body"]
    summary = (tmp_path / "github_step_summary").read_text(encoding="utf-8")
    assert len(summary.encode()) <= 1024 * 1024 and summary.count("block_") > comment[
        "body"].count("block_")


def test_invalid_report_is_exit_2_and_nothing_is_sent(run, github, tmp_path):
    report = make_report(BREAKING)
    report["verdict"] = "pass-please"
    assert run(report) == 2
    assert github.requests == [] and github.comments_on(PR) == []
    assert outputs(tmp_path)["verdict"] == "error"
    (tmp_path / "broken.json").write_text("{not json")
    assert main(["publish", str(tmp_path / "broken.json")]) == 2
    assert github.requests == []


def test_injection_in_report_text_is_neutralised(run, github, capsys):
    evil = Mismatch(
        "missing", "x<img src=x onerror=alert(1)>@admin [click](https://evil.example)",
        "lay|er`\n::set-output name=verdict::pass", hint="<script>@org/team ![i](http://x/i.png)",
        model=TensorSpec([1], "float32"), source="model.py:3")
    assert run(make_report([evil])) == 1
    body = github.comments_on(PR)[0]["body"]
    assert "`x<img src=x onerror=alert(1)>@admin [click](https://evil.example)`" in body
    outside_code = re.sub(r"`[^`\n]*`", "", body)  # code spans render literally: inert
    assert "<img" not in outside_code and "<script>" not in outside_code
    assert "@admin" not in outside_code and "@org" not in outside_code
    assert "](https://evil" not in outside_code and "](http://x" not in outside_code
    assert all(line.count("|") - line.count("\\|") == 9
               for line in body.splitlines() if line.startswith("| ❌ | missing"))
    stdout = capsys.readouterr().out
    assert not any(line.startswith("::set-output") for line in stdout.splitlines())
    assert "%0A" in stdout or "\n::set-output" not in stdout


def test_override_label_turns_a_fail_into_a_pass_with_a_notice(run, github, tmp_path, capsys):
    github.add_pull(PR, labels=["bug", "restore-gate: allow-break"])
    assert run(make_report(BREAKING)) == 0
    body = github.comments_on(PR)[0]["body"]
    assert "restore-gate: allow-break" in body and "does not block the merge" in body
    assert outputs(tmp_path)["verdict"] == "pass"
    assert "::warning file=model.py,line=7" in capsys.readouterr().out


def test_override_never_turns_an_error_into_a_pass(run, github):
    github.add_pull(PR, labels=["restore-gate: allow-break"])
    error = {"stage": "fetch", "message": "download failed", "hint": "re-run"}
    assert run(make_report(errors=[error])) == 2


def test_custom_override_label_from_the_config(run, github, tmp_path):
    (tmp_path / ".restore-gate.yml").write_text(
        "version: 1\nmodel:\n  builder: m:b\npublish:\n  override_label: ship-it\n")
    github.add_pull(PR, labels=["restore-gate: allow-break"])
    assert run(make_report(BREAKING)) == 1
    github.add_pull(PR, labels=["ship-it"])
    assert run(make_report(BREAKING)) == 0


@pytest.mark.parametrize("problem", ["401", "403", "down"])
def test_publishing_failure_is_a_warning_and_keeps_the_verdict(run, github, monkeypatch,
                                                              tmp_path, capsys, problem):
    if problem == "401":
        monkeypatch.setenv("GITHUB_TOKEN", "ghp_revoked_token_value")
    elif problem == "403":
        github.set_permissions(pull_requests=1)
    else:
        monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")
    assert run(make_report(BREAKING)) == 1
    assert outputs(tmp_path)["verdict"] == "fail" and outputs(tmp_path)["comment-url"] == ""
    captured = capsys.readouterr()
    assert "::warning" in captured.out and "ghp_revoked_token_value" not in captured.out + (
        captured.err)
    if problem != "down":
        assert "pull-requests: write" in captured.err
    assert not github.comments_on(PR)


def test_reports_of_several_runners_merge_into_one_comment(run, github, tmp_path):
    cpu = make_report(BREAKING)
    gpu = make_report([shape()], device="GPU")
    old_tf = make_report(device="CPU", tf="2.16.1")
    assert run(cpu, gpu, old_tf) == 1
    [comment] = github.comments_on(PR)
    body = comment["body"]
    assert "across 3 runners" in body
    header = next(line for line in body.splitlines() if line.startswith("| layer |"))
    assert header.endswith("| CPU · TF 2.21.0 | GPU · TF 2.21.0 | CPU · TF 2.16.1 |")
    row = next(line for line in body.splitlines() if line.startswith("| ❌ `out` |"))
    assert row.endswith("| ❌ | — | — |")
    assert outputs(tmp_path)["report"].count("\n") == 2


def test_worst_verdict_decides_the_exit_code(run, github):
    error = {"stage": "restore", "message": "GPU out of memory", "hint": "smaller batch"}
    assert run(make_report(BREAKING), make_report(device="GPU", errors=[error])) == 2


def test_annotations_are_capped_at_ten_with_a_summary(run, github, capsys):
    many = [shape(f"l{i}/kernel", f"l{i}", line=i + 1) for i in range(15)]
    run(make_report(many))
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("::error")]
    assert len(lines) == 10
    assert lines[0].startswith("::error file=model.py,line=1,")
    assert "6 more mismatches" in lines[-1]


def test_check_run_carries_the_verdict_and_annotations(run, github):
    assert run(make_report(BREAKING), args=("--check-run",)) == 1
    [check] = github.check_runs
    assert check["request"]["conclusion"] == "failure"
    assert check["head_sha"] == github.pull_head(PR)
    paths = {(a["path"], a["start_line"]) for a in check["request"]["output"]["annotations"]}
    assert paths == {("model.py", 7), ("model.py", 9)}


def test_workflow_run_reports_for_another_commit_are_not_posted(run, github, tmp_path,
                                                                monkeypatch):
    runtime = tmp_path / "runtime-event.json"
    runtime.write_text(json.dumps({"workflow_run": {"head_sha": "a" * 40, "pull_requests": []}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(runtime))
    assert run(make_report(BREAKING), args=("--pr", str(PR))) == 1
    assert not github.comments_on(PR) and not github.calls("POST")


def test_no_pull_request_means_no_comment_but_outputs(run, github, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_EVENT_PATH")
    assert run(make_report(BREAKING)) == 1
    assert github.requests == [] and outputs(tmp_path)["verdict"] == "fail"


def test_publish_imports_no_tensorflow(tmp_path, monkeypatch):
    clean_environ(monkeypatch)
    report = tmp_path / "report.json"
    report.write_text(json.dumps(make_report(BREAKING)))
    code = ("import sys; from restore_gate.cli import main; rc = main(['publish', sys.argv[1]]);"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules; "
            "sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code, str(report)], cwd=tmp_path,
                          env={k: v for k, v in os.environ.items()}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stderr


def test_standin_is_reusable_as_a_plain_context_manager(tmp_path):
    with GitHubStub(repo="acme/widgets") as stub:
        stub.add_pull(1)
        env = stub.env(pr=1, event_path=tmp_path / "event.json")
        assert env["GITHUB_REPOSITORY"] == "acme/widgets"
        assert json.loads((tmp_path / "event.json").read_text())["pull_request"]["number"] == 1


def test_cpu_and_gpu_outputs_are_compared_when_merging(run, github):
    cpu, gpu = make_report(), make_report(device="GPU")
    cpu["extra"] = {"golden_outputs": {"probs": [0.1, 0.9, 0.5]}}
    gpu["extra"] = {"golden_outputs": {"probs": [0.1 + 1e-7, 0.9, 0.5]}}
    assert run(cpu, gpu) == 0
    assert "### CPU vs GPU" in github.comments_on(PR)[0]["body"]
    gpu["extra"] = {"golden_outputs": {"probs": [0.3, 0.9, 0.5]}}
    assert run(cpu, gpu) == 1
    body = github.comments_on(PR)[0]["body"]
    assert "**fail** across 2 runners" in body and "| ❌ | `CPU vs" in body
