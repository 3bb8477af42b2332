"""The rendered comment for representative reports, as GitHub renders it (cmark-gfm).

tests/data/render holds real reports (toy, a real model's width change, drift, a `.keras`
release's drift, error, multi-runner, a text model's vocabulary change, a switch to mixed
precision) and the comment expected for each;
`python tests/data/render/regenerate.py` rewrites the expected files, reviewed as diffs.
Every comment must stay small, carry no raw HTML of the report's, keep its tables whole,
and lead with the cause.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import pytest

cmarkgfm = pytest.importorskip("cmarkgfm")
from cmarkgfm.cmark import Options  # noqa: E402

HERE = Path(__file__).resolve().parent / "data" / "render"
sys.path.insert(0, str(HERE))
import regenerate  # noqa: E402

from restore_gate.present.comment import render  # noqa: E402
from restore_gate.present.markdown import COMMENT_BUDGET, MARKER, size  # noqa: E402

CASES = regenerate.cases()
# what the headline must name: the pattern and the words that locate it
CAUSES = {
    "toy": ["A layer was inserted at [`classifier.py:9`]", "`bottleneck`",
            "2 values of `hidden` changed shape: its size went 16 → 32"],
    "mobilenet": ["144 values in 61 layers changed shape: every one narrowed its channels ×0.75",
                  "a width setting changed at [`model.py:5`]"],
    "drift": ["Weights restore cleanly, but behaviour drifts: `loss` 0.0888 → 0.256 "
              "(+189 % vs max +5 %)",
              # the demo's silent change edits the activation of `hidden`, classifier.py:8
              "Outputs first diverge after `hidden` ([`classifier.py:8`]"],
    # a .keras saved by this Keras: the cause comes first, with no version note before it
    "keras-drift": ["**What happened:** Weights restore cleanly, but behaviour drifts: `loss`"],
    "error": ["The gate could not decide: the fetch stage failed: cannot unpack truncated"],
    "multi-runner": ["behaviour drifts: `loss`"],
    # issue 17: a text model's vocabulary, a switch to mixed precision (regenerate --families)
    "text-drift": ["The vocabulary of `vectorize` (TextVectorization) changed",
                   "outputs `head` differ"],
    "mixed-precision": ["compute dtype float32 → float16 (mixed precision policy) in 2 layers",
                        "LossScaleOptimizer"],
}
# HTML that Markdown itself produces, plus the comment's own <details>/<summary>
MARKDOWN_TAGS = {"p", "h2", "h3", "table", "thead", "tbody", "tr", "th", "td", "code", "a",
                 "strong", "em", "ul", "ol", "li", "blockquote", "br", "details", "summary"}


def to_html(markdown: str) -> str:
    """GitHub's renderer with raw HTML let through, so any the report smuggled in shows."""
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def test_every_case_has_a_cause_to_check():
    assert set(CASES) == set(CAUSES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_snapshot_matches_the_stored_comment(name):
    expected = (HERE / f"{name}.md").read_text(encoding="utf-8")
    assert regenerate.render_case(CASES[name]) == expected, (
        f"{name}.md is stale: run `python tests/data/render/regenerate.py` and review the diff")


@pytest.mark.parametrize("name", sorted(CASES))
def test_size_and_the_headline_names_the_cause(name):
    body = (HERE / f"{name}.md").read_text(encoding="utf-8")
    assert body.startswith(MARKER + "\n## ")
    assert 200 < size(body) <= COMMENT_BUDGET
    headline = next(line for line in body.splitlines() if line.startswith("**What happened"))
    for words in CAUSES[name]:
        assert words in headline


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_raw_html_from_the_report(name):
    page = to_html((HERE / f"{name}.md").read_text(encoding="utf-8"))
    tags = {t.lower() for t in re.findall(r"</?([A-Za-z][A-Za-z0-9]*)", page)}
    assert tags <= MARKDOWN_TAGS, tags - MARKDOWN_TAGS
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert all(h.startswith("https://github.com/octo/models/blob/") for h in hrefs), hrefs


@pytest.mark.parametrize("name", sorted(CASES))
def test_tables_render_whole(name):
    markdown = (HERE / f"{name}.md").read_text(encoding="utf-8")
    page = to_html(markdown)
    tables = re.findall(r"<table>(.*?)</table>", page, flags=re.S)
    assert len(tables) == len(re.findall(r"^\| ?-", markdown, flags=re.M))
    for table in tables:
        head = len(re.findall(r"<th\b", table.split("</thead>")[0]))
        rows = re.findall(r"<tr>(.*?)</tr>", table.split("</thead>")[1], flags=re.S)
        assert head >= 2 and rows
        for row in rows:
            assert len(re.findall(r"<td\b", row)) == head, html.unescape(row)[:300]


def test_real_model_width_change_fits_in_a_fifth_of_the_old_size():
    """MobileNetV3Small alpha 1.0 → 0.75: every layer once, hints once, the rest folded."""
    body = (HERE / "mobilenet.md").read_text(encoding="utf-8")
    table = [line for line in body.splitlines() if line.startswith("| ❌ `")]
    assert len(table) == 61  # every layer fits: one row each, variables folded in
    assert body.count("restore the layer's units/filters/kernel size/input size") == 1
    assert body.index("<details><summary>51 more layers</summary>") > body.index(table[9])
    assert max(len(line.split(" | ")) for line in table) == 4  # layer, change, specs, source


def test_the_job_summary_holds_every_layer_the_comment_trims(tmp_path):
    import json

    [path] = CASES["mobilenet"]
    report = json.loads(path.read_text(encoding="utf-8"))
    many = [dict(m, layer=f"block_{i}/{m['layer']}" * 3, name=f"block_{i}/{m['name']}" * 3)
            for i in range(20) for m in report["mismatches"]]
    report["mismatches"] = many
    comment, summary = render(report), render(report, budget=None)
    assert size(comment) <= COMMENT_BUDGET and "Trimmed to fit" in comment
    groups = len({m["layer"] for m in many})
    assert summary.count("| ❌ `") == groups > comment.count("| ❌ `")


@pytest.mark.parametrize("name", ["toy", "drift"])
def test_the_docs_show_the_current_comment(name):
    """docs/publishing.md shows the toy and drift comments; the README's picture is drift.md."""
    page = (HERE.parents[2] / "docs" / "publishing.md").read_text(encoding="utf-8")
    assert f"````markdown\n{(HERE / f'{name}.md').read_text(encoding='utf-8')}````" in page
    readme = (HERE.parents[2] / "README.md").read_text(encoding="utf-8")
    assert "(docs/images/comment-drift.png)" in readme and "tests/data/render/drift.md" in readme
