"""The comment is built from an untrusted report: hostile names must render inert.

Every string field a branch (or a forged report artifact) controls is filled with
HTML, links, images, @mentions, table pipes, backticks and a copy of the sticky
comment's marker; the rendered Markdown must carry none of them live.
"""

from __future__ import annotations

import re

import pytest

from restore_gate.core.report import (
    DriftEntry,
    Mismatch,
    OptimizerState,
    TensorSpec,
    validate_report,
)
from restore_gate.pipeline.draft import ReportDraft
from restore_gate.present.comment import render
from restore_gate.present.markdown import MARKER, code, escape

HOSTILE = (
    "<img src=x onerror=alert(1)> <script>alert(1)</script> [click](https://evil.example/a) "
    "![pixel](https://evil.example/p.png) @octocat @org/team | cell | `tick` ``fence``` "
    "<!-- restore-gate:comment --> </details> *bold* _em_ ~~strike~~ \\ "
    "<https://evil.example/auto> www.evil.example\n# heading\n---"
)
OWN_TAGS = {"<!-- restore-gate:comment -->", "<details>", "</details>", "<summary>",
            "</summary>"}


def hostile_report() -> dict:
    report = ReportDraft(
        runner={"name": HOSTILE[:256], "device": "CPU", "device_name": HOSTILE[:256],
                "tensorflow": HOSTILE[:256], "keras": "3", "python": "3.11"},
        checkpoint={"source": HOSTILE, "format": HOSTILE[:256], "variables": 1,
                    "written_by": {"tensorflow": HOSTILE[:256], "device": HOSTILE[:256]}},
        model={"builder": HOSTILE, "variables": 2, "restored": 1},
        optimizer=OptimizerState(status="changed", policy="required", ok=False,
                                 checkpoint_type=HOSTILE[:256], model_type=HOSTILE[:256],
                                 hint=HOSTILE),
        notices=[HOSTILE],
        timings={HOSTILE[:40]: 1.0},
    )
    for kind in ("missing", "unexpected", "shape", "dtype", "rename"):
        report.mismatches.append(Mismatch(
            kind=kind, name=HOSTILE, layer=HOSTILE, key=HOSTILE, hint=HOSTILE,
            checkpoint=TensorSpec([1, 2], HOSTILE[:256]), model=TensorSpec(None, "float32"),
            source="evil|`[x](https://e.example)`.py:3", checkpoint_name=HOSTILE,
        ))
    report.drift.append(DriftEntry(kind="metric", name=HOSTILE, baseline=1.0, value=0.5,
                                   delta=-0.5, threshold=HOSTILE, ok=False))
    report.errors.append({"stage": "build", "message": HOSTILE, "hint": HOSTILE})
    report.decide()
    return validate_report(report.to_dict(), "hostile.json")


@pytest.fixture(scope="module")
def comment() -> str:
    return render(hostile_report())


def outside_code(text: str) -> str:
    """The comment without its inline code spans (where Markdown is not interpreted)."""
    return re.sub(r"(?<!\\)`[^`\n]*`", "", text)


def test_no_html_tag_of_the_report_survives(comment):
    tags = set(re.findall(r"<[^>\n]*>", outside_code(comment)))  # code spans are inert
    assert tags <= OWN_TAGS
    live = outside_code(comment)
    assert live.count(MARKER) == 1 and comment.startswith(MARKER)
    assert live.count("<details>") == live.count("</details>") <= 1


def test_no_link_image_or_autolink(comment):
    text = outside_code(comment)
    assert not re.search(r"(?<!\\)\]\(", text)  # [text](url) and ![alt](url)
    assert "://" not in text
    assert not re.search(r"(?<![\w\u200b])www\.", text)


def test_no_mentions(comment):
    assert not re.search(r"@[A-Za-z0-9]", outside_code(comment))


def test_table_rows_keep_their_columns(comment):
    for table in re.findall(r"((?:^\|.*\|$\n?)+)", comment, flags=re.M):
        rows = table.strip().splitlines()
        widths = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
        assert len(widths) == 1, rows


def test_no_emphasis_heading_or_rule_from_the_report(comment):
    text = outside_code(comment)
    assert not re.search(r"(?<!\\)\*bold(?<!\\)\*", text)
    assert not re.search(r"(?<!\\)_em(?<!\\)_", text)
    own_headings = {line for line in comment.splitlines() if line.startswith("#")}
    assert all("heading" not in line for line in own_headings)
    assert "\n---" not in comment


def test_code_spans_cannot_be_broken_out_of():
    assert code("a`b``c") == "`a'b''c`"
    assert code("x|y") == "`x\\|y`"
    assert code("two\nlines") == "`two lines`"


def test_escape_keeps_plain_names_readable():
    assert escape("hidden/kernel") == "hidden/kernel"
    assert escape("dense_1/bias") == "dense\\_1/bias"
    assert escape("a < b & c") == "a &lt; b &amp; c"
    assert escape("a > b") == "a &gt; b"
    assert code("") == code(" \n ") == ""  # nothing to show: no empty code span


def test_hostile_names_are_still_shown(comment):
    assert "alert(1)" in comment  # shown as text, not dropped
    assert "octocat" in comment


def test_a_fail_says_what_to_do_with_the_configured_label():
    """A failing comment ends with the reviewer's two ways on: not intended (where to look),
    intended (the override label, named as configured, then the exact snapshot command), and
    the command that reproduces the check; a pass has no such section."""
    import json
    from pathlib import Path

    from restore_gate.present.merge import comment_body

    here = Path(__file__).parent / "data" / "render"
    drift = validate_report(json.loads((here / "drift.json").read_text()), "drift")
    body = comment_body([drift], label="ml: accept break")
    steps = body.split("### What to do", 1)[1]
    assert "`ml: accept break`" in steps
    assert "`restore-gate snapshot --checkpoint NEW_CHECKPOINT --out release/model.tar.gz`" in steps
    assert "first diverge after `hidden`" in steps
    assert "**Reproduce locally:** `restore-gate check`" in steps
    based = {**drift, "extra": {**drift["extra"], "base": {"ref": "abc123", "applied": "base",
                                                            "changes": []}}}
    assert "`restore-gate check --base abc123`" in comment_body([based])
    passed = {**drift, "verdict": "pass", "drift": [], "summary": {"blocking": 0}}
    assert "What to do" not in comment_body([passed])


def test_a_warn_level_drift_is_no_behaviour_change_in_the_fix_hint():
    """Only drift that fails points the reviewer at changed behaviour; a warning does not."""
    draft = ReportDraft(
        mismatches=[Mismatch("shape", "a/kernel", "a", checkpoint=TensorSpec([2], "float32"),
                             model=TensorSpec([3], "float32"))],
        drift=[DriftEntry("metric", "loss", 0.1, 0.2, 0.1, "warn_increase 0.05", False,
                          level="warn")])
    draft.decide()
    hint = next(line for line in render(draft.freeze()).splitlines() if "Not intended?" in line)
    assert "behaviour changed" not in hint and "undo the change" in hint.lower()
    draft.drift[0].level = "fail"
    hint = next(line for line in render(draft.freeze()).splitlines() if "Not intended?" in line)
    assert "behaviour changed while the weights restore" in hint
