"""Whatever a report holds, the comment stays under 20,000 characters and the step outputs
under GitHub's 1 MB; source links point only at the head commit's own files."""

from __future__ import annotations

import re

import pytest
from test_render import HOSTILE, hostile_report

from restore_gate.github.actions import MAX_OUTPUT_BYTES
from restore_gate.present.comment import render
from restore_gate.present.links import SourceLinks
from restore_gate.present.markdown import COMMENT_BUDGET, size
from restore_gate.present.merge import comment_body
from restore_gate.publish.annotations import mismatches_output

LINKS = SourceLinks("https://github.com", "octo/models", "b" * 40, "/work/repo")
LONG = (HOSTILE * 20)[:4096]


def outside_code(text: str) -> str:
    return re.sub(r"(?<!\\)`[^`\n]*`", "", text)


def table_widths(body: str) -> list[set[int]]:
    return [{len(re.findall(r"(?<!\\)\|", row)) for row in table.strip().splitlines()}
            for table in re.findall(r"((?:^\|.*\|$\n?)+)", body, flags=re.M)]


@pytest.fixture(scope="module")
def huge() -> dict:
    """Every list at a size the schema allows, every string at its longest."""
    report = hostile_report()
    spec = {"shape": [4, 8], "dtype": "float32"}
    report["mismatches"] = [
        {"kind": "shape", "name": f"{i}/{LONG}", "layer": f"layer_{i // 3}{LONG[:3000]}",
         "allowed": False, "hint": LONG, "checkpoint": spec, "model": spec,
         "source": f"src/model_{i}.py:{i + 1}"} for i in range(3000)]
    report["notices"] = [f"{i} {LONG}" for i in range(1000)]
    report["errors"] = [{"stage": "build", "message": LONG, "hint": LONG}] * 1000
    report["drift"] = [{"kind": "metric", "name": f"{i}{LONG}", "baseline": 1.0, "value": 2.0,
                        "delta": 1.0, "threshold": LONG, "ok": False} for i in range(10000)]
    report["timings"] = {f"{i}{LONG[:200]}": 1.0 for i in range(64)}
    return report


def test_a_maximal_report_stays_under_the_budget(huge):
    body = render(huge, links=LINKS)
    assert size(body) <= COMMENT_BUDGET and "Cut short" not in body  # sections fit themselves
    assert "Trimmed to fit" in body and "| ❌ `layer_0" in body
    assert all(len(widths) == 1 for widths in table_widths(body))
    assert outside_code(body).count("<details>") == outside_code(body).count("</details>")


def test_several_maximal_reports_merge_under_the_budget(huge):
    body = comment_body([huge, huge, huge], override="label applied", links=LINKS)
    assert size(body) <= COMMENT_BUDGET
    assert outside_code(body).count("<details>") == outside_code(body).count("</details>")


def test_the_mismatches_output_stays_well_under_one_megabyte(huge):
    text = mismatches_output([huge])
    assert len(text.encode()) <= MAX_OUTPUT_BYTES
    assert text.splitlines()[-1].startswith("… and ") and text.splitlines()[-1].endswith(" more")


def test_links_only_for_plain_paths_inside_the_repository():
    assert LINKS.url("src/model.py:7") == (
        f"https://github.com/octo/models/blob/{'b' * 40}/src/model.py#L7")
    assert LINKS.url("/work/repo/src/a b.py:3").endswith("/src/a%20b.py#L3")
    assert LINKS.url("model.py:1)](https://evil.example") is None  # no line number at the end
    assert LINKS.url("x](https://evil.example/a).py:3").endswith(
        "/x%5D%28https%3A/evil.example/a%29.py#L3")  # inert: percent-encoded, one path
    for outside in ("/etc/passwd:1", "../secrets.py:2", "src/../../x.py:3", "a.py:x"):
        assert LINKS.url(outside) is None
    assert SourceLinks("https://github.com", "octo/models", "not-a-sha").url("a.py:1") is None
    assert SourceLinks("javascript:alert(1)//", "octo/models", "b" * 40).url("a.py:1") is None
    assert SourceLinks("https://github.com", "octo/models) [x](y", "b" * 40).url("a.py:1") is None


def test_a_hostile_report_with_links_has_no_other_link():
    body = render(hostile_report(), links=LINKS)
    targets = re.findall(r"(?<!\\)\]\(([^)]*)\)", re.sub(r"(?<!\\)`[^`\n]*`", "``", body))
    assert targets and all(t.startswith("https://github.com/octo/models/blob/") for t in targets)
    assert all(" " not in t and "(" not in t for t in targets)


def test_check_mode_job_summary_lists_every_layer(tmp_path, monkeypatch):
    """The action's `check` mode: the comment is trimmed, the job summary is not."""
    import json

    from test_action_entrypoint import load_entrypoint

    entrypoint = load_entrypoint()
    spec = {"shape": [4, 8], "dtype": "float32"}
    report = hostile_report()
    report["mismatches"] = [
        {"kind": "shape", "name": f"block_{i}/kernel", "layer": f"block_{i}" + "_x" * 60,
         "allowed": False, "hint": "restore the width", "checkpoint": spec,
         "model": {**spec, "shape": [4, 16]}, "source": f"model.py:{i + 1}"} for i in range(300)]
    monkeypatch.chdir(tmp_path)
    entrypoint.write_summary(entrypoint.Actions(summary=tmp_path / "summary.md"),
                             json.loads(json.dumps(report)))
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert summary.count("| ❌ `block_") == 300 > render(report).count("| ❌ `block_")
