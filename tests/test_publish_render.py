"""Merged comment rendering, size limits and workflow-command encoding (no HTTP here)."""

from __future__ import annotations

from pathlib import Path

from action_support import parse_outputs
from test_publish import BREAKING, make_report, shape

from restore_gate.github.actions import Actions, command, write_outputs
from restore_gate.present.markdown import MARKER
from restore_gate.present.merge import comment_body, fit, merged, runner_names, utf16_units, worst
from restore_gate.publish.annotations import annotations


def test_worst_verdict_is_error_then_fail_then_pass():
    assert worst(["pass", "fail", "pass"]) == "fail"
    assert worst(["fail", "error"]) == "error"
    assert worst(["pass"]) == "pass"
    assert worst([]) == "error"


def test_runner_columns_are_unique_and_escaped():
    a, b = make_report(device="GPU"), make_report(device="GPU")
    b["runner"]["tensorflow"] = "2.21.0"
    c = make_report()
    c["runner"]["tensorflow"] = "<b>@evil</b>"
    names = runner_names([a, b, c])
    assert names[0] == "GPU · TF 2.21.0" and names[1] == "GPU · TF 2.21.0 (2)"
    body = merged([a, b, c], 10)
    assert "<b>" not in body and "@evil" not in body


def test_merged_body_marks_each_runner_and_lists_errors_per_runner():
    error = {"stage": "restore", "message": "CUDA error", "hint": "check the driver"}
    body = merged([make_report(BREAKING), make_report(device="GPU", errors=[error])], 50)
    assert body.startswith(MARKER) and "**error** across 2 runners" in body
    assert "- **GPU · TF 2.21.0**, restore: CUDA error" in body
    assert "| blocking mismatches | 2 | 0 |" in body


def test_hard_cut_when_rows_alone_cannot_make_it_fit():
    errors = [{"stage": "build", "message": "x" * 4000, "hint": ""} for _ in range(40)]
    report = make_report([shape()], errors=errors)
    body, cut = fit(lambda rows: comment_body([report], rows), 1, 3_000, utf16_units)
    assert cut and utf16_units(body) <= 3_000 and "Cut short" in body
    assert body.startswith(MARKER)


def test_override_notice_follows_the_headline():
    body = comment_body([make_report(BREAKING)], override="label applied")
    lines = body.splitlines()
    assert lines[0] == MARKER and lines[1].startswith("## ") and lines[3] == "> [!IMPORTANT]"


def test_workflow_commands_cannot_be_broken_out_of():
    line = command("error", "a\n::set-output name=x::y %", file="a,b:c.py", line=3)
    assert "\n" not in line and line.endswith("a%0A::set-output name=x::y %25")
    assert line.startswith("::error file=a%2Cb%3Ac.py,line=3::")


def test_annotation_paths_are_made_relative_to_the_workspace(tmp_path):
    report = make_report([shape(line=5)])
    report["mismatches"][0]["source"] = f"{tmp_path}/src/model.py:5"
    [line] = annotations([report], tmp_path)
    assert line.startswith("::error file=src/model.py,line=5,")


def test_outputs_use_a_delimiter_the_value_does_not_contain(tmp_path: Path):
    out = tmp_path / "out"
    write_outputs(out, {"mismatches": "one\ntwo", "verdict": "fail"})
    text = out.read_text()
    head = text.splitlines()[0]
    name, _, delimiter = head.partition("<<")
    assert name == "mismatches" and delimiter.startswith("ghadelimiter_")
    assert text.count(delimiter) == 2 and "one\ntwo\n" + delimiter in text


def test_one_actions_object_writes_commands_outputs_and_the_summary(tmp_path, capsys):
    actions = Actions(enabled=True, output=tmp_path / "out", summary=tmp_path / "summary.md")
    actions.annotate("error", "50% of\nthe layers")
    with actions.stop_commands():
        print("::error::forged by a layer name", flush=True)
    with actions.stop_commands():
        pass
    actions.warning("no comment posted")
    assert actions.set_outputs({"verdict": "fail"}) and actions.add_summary("## summary")
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == "::error title=restore-gate::50%25 of%0Athe layers"  # GitHub's escaping
    first, second = lines[1].removeprefix("::stop-commands::"), lines[4]
    assert len(first) == 32 and lines[1:4] == [f"::stop-commands::{first}",
                                               "::error::forged by a layer name", f"::{first}::"]
    assert second.startswith("::stop-commands::") and first not in second  # a fresh token
    assert lines[-1] == "::warning title=restore-gate::no comment posted"
    assert err == "restore-gate: warning: no comment posted\n"
    assert parse_outputs((tmp_path / "out").read_text()) == {"verdict": "fail"}
    assert (tmp_path / "summary.md").read_text() == "## summary\n"


def test_outside_a_workflow_the_actions_object_prints_no_command(capsys):
    actions = Actions.from_env({"GITHUB_ACTIONS": "false"})
    actions.annotate("error", "x")
    with actions.stop_commands():
        print("text")
    actions.warning("y")
    assert not actions.set_outputs({"verdict": "pass"}) and not actions.add_summary("z")
    assert capsys.readouterr() == ("text\n", "restore-gate: warning: y\n")
