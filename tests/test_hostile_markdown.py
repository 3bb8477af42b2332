"""Hostile text in reports (issue 9, item 12): notices, error messages and hints come from
untrusted reports and branch code. Rendered through the real comment renderers (one runner:
`render.render`; several: `publish.merge.comment_body`) and then by cmark-gfm, GitHub's own
Markdown engine, they must add no link, heading, list, rule, quote, image or HTML; and the text
GitHub links after rendering (@mentions, #123 / owner/repo#123 / GH-123 references) must not
appear in it.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from github_stub import github_fixture  # noqa: F401  (fixture)

from restore_gate.core.report import DriftEntry, Mismatch, TensorSpec
from restore_gate.pipeline.draft import ReportDraft
from restore_gate.present.comment import render
from restore_gate.present.merge import comment_body

cmarkgfm = pytest.importorskip("cmarkgfm", reason="pip install cmarkgfm (the test extra)")

BENIGN = "plain words"
_TAGS = re.compile(r"<(a|h[1-6]|ul|ol|li|hr|blockquote|img|pre|code|table|p|em|strong|del|"
                   r"b|i|script|details)\b")
# What GitHub links in the rendered HTML's text, outside cmark-gfm.
_GITHUB_LINKED = re.compile(r"@\w|#\d|\b\w[\w.-]*/[\w.-]+#\d|(?i:gh-\d)|(?i:www\.)|://")


def _report(text: str, runner: str = "cpu") -> dict:
    report = ReportDraft(
        runner={"name": runner, "device": "CPU", "device_name": "", "python": "3.11.7",
                "tensorflow": "2.21.0", "keras": "3.15.1"},
        checkpoint={"source": "release", "format": "tf-checkpoint", "variables": 1},
        model={"builder": "model:build", "variables": 1},
        mismatches=[Mismatch("shape", "hidden/kernel", "hidden", hint=text,
                             checkpoint=TensorSpec([4, 8], "float32"),
                             model=TensorSpec([4, 16], "float32"))],
        errors=[{"stage": "build", "message": text, "hint": text}],
        notices=[text],
    )
    report.decide()
    return report.to_dict()


def _html(markdown: str) -> str:
    from cmarkgfm.cmark import Options

    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def _rendered(text: str) -> list[str]:
    """The comment for one runner and the merged one for two, as GitHub's cmark-gfm renders them."""
    return [_html(render(_report(text))),
            _html(comment_body([_report(text), _report(text, "gpu")]))]


def assert_inert(text: str) -> None:
    for hostile, benign in zip(_rendered(text), _rendered(BENIGN), strict=True):
        assert Counter(_TAGS.findall(hostile)) == Counter(_TAGS.findall(benign)), hostile
        assert len(_GITHUB_LINKED.findall(hostile)) == len(_GITHUB_LINKED.findall(benign)), (
            _GITHUB_LINKED.findall(hostile))


def test_www_autolink_after_an_underscore():
    """Attack: `_www.evil.example` (GFM's extended autolink fires after `_`)."""
    assert_inert("see _www.evil.example now")


def test_heading():
    """Attack: a notice starting `# ` renders as a heading."""
    assert_inert("# Approved by the security team")


def test_bullet_list():
    """Attack: a notice starting `- ` (and `+ `) renders as a list."""
    assert_inert("- merge me")
    assert_inert("+ merge me")


def test_thematic_break_or_setext_underline():
    """Attack: `---` alone: a rule, or a setext heading of the line above (`> [!NOTE]`)."""
    assert_inert("---")


def test_setext_heading_with_equals():
    """Attack: `===` / `=` alone makes the line above an <h1>."""
    assert_inert("===")


def test_ordered_list():
    """Attack: `1. ` and `1) ` start ordered lists."""
    assert_inert("1. all good")
    assert_inert("1) all good")


def test_code_fence():
    """Attack: a notice that opens a code fence (```` ```` ````, an even count of backticks)
    swallows the rest of the comment into a code block."""
    assert_inert("````")


def test_issue_references():
    """Attack: `#123`, `owner/repo#1` and `GH-1` are live references on GitHub (they link and
    notify the referenced issue)."""
    assert_inert("fixes #123 and octo/models#1 and GH-1")


def test_quote_mentions_urls_emails_entities_and_html():
    """Attack: `> quote`, @mentions, an https:// autolink, an email autolink, raw HTML, a
    link, and the entity `&#64;admin`, whose literal text `#64` GitHub links as issue 64."""
    assert_inert("> @octocat see https://evil.example or bob@evil.example &#64;admin "
                 "<img src=x> [click](http://evil.example)")


def test_override_label_name_from_the_config(github, tmp_path, monkeypatch):
    """Attack: the pull request's config names an override label that closes the notice's code
    span (`` ok` [approved](https://evil.example) ` ``); with that label on the pull request the
    override notice carried a live link."""
    import json

    from restore_gate.cli import main

    label = "ok` [approved](https://evil.example) @octocat `"
    github.add_pull(7, labels=[label])
    event = github.env(pr=7, event_path=tmp_path / "event.json")["GITHUB_EVENT_PATH"]
    monkeypatch.setenv("GITHUB_EVENT_PATH", event)
    monkeypatch.chdir(tmp_path)
    config = tmp_path / ".restore-gate.yml"
    config.write_text("version: 1\nmodel:\n  builder: m:b\npublish:\n  override_label: "
                      f"{json.dumps(label)}\n")
    failing = _report(BENIGN)
    failing["errors"], failing["verdict"] = [], "fail"
    report = tmp_path / "report.json"
    report.write_text(json.dumps(failing))
    assert main(["publish", "--config", str(config), str(report)]) == 0  # overridden
    html = _html(github.comments_on(7)[0]["body"])
    assert "evil.example" in html and "does not block the merge" in html
    outside_code = re.sub(r"<code>.*?</code>", "", html)  # GitHub links nothing in code spans
    assert "<a " not in html and not re.search(r"@\w", outside_code)


# --- issue 15, item 11: invisible characters in names ------------------------------------

_INVISIBLE = ["\u202e", "\u2066", "\u2069", "\ufeff", "\u200b", "\u200d", "\u061c", "\x1b"]


def _named_report(name: str, layer: str) -> dict:
    """A failing report whose mismatch, drift entry and divergence carry branch names."""
    report = ReportDraft(
        mismatches=[Mismatch("shape", name, layer, hint=f"the variable `{name}` changed shape",
                             checkpoint=TensorSpec([4, 8], "float32"),
                             model=TensorSpec([4, 16], "float32"), source="model.py:7")],
        drift=[DriftEntry("output", name, None, 1.0, None, "atol 1e-05", False)],
        extra={"divergence": {"layer": layer, "error": 1.0, "source": "model.py:7"}},
    )
    report.decide()
    return report.to_dict()


def _invisible(text: str) -> Counter:
    import unicodedata

    return Counter(c for c in text if unicodedata.category(c) in ("Cf", "Cc")
                   and c not in "\n\r\t")


def test_bidi_and_zero_width_characters_in_names_are_shown_not_applied(tmp_path):
    """Attack: a layer named `out\u202e\u2066lenrek` (right-to-left override, isolate, BOM,
    zero-width joiner ...) reached the comment inside code spans, and every other place a name
    lands, as the characters themselves: the reviewer read the name reordered or hidden. Each
    is now shown as `<U+202E>`; what is left of category Cf is only the comment's own
    zero-width spaces, exactly as many as for a plain name."""
    from restore_gate.github.actions import write_outputs
    from restore_gate.present.merge import summary_body
    from restore_gate.publish.annotations import annotations, mismatches_output

    hostile_name = "hidden" + "".join(_INVISIBLE) + "/kernel"
    hostile = _named_report(hostile_name, "hid\u202eden")
    plain = _named_report("hidden/kernel", "hidden")
    for make in (lambda r: _html(render(r)), lambda r: _html(comment_body([r, r])),
                 lambda r: _html(summary_body([r]))):
        shown = make(hostile)
        assert _invisible(shown) == _invisible(make(plain)), _invisible(shown)
        assert "<U+202E>" in shown.replace("&lt;", "<").replace("&gt;", ">")
        assert "U+FEFF" in shown and "U+200B" in shown and "U+001B" in shown
    lines = annotations([hostile], None)
    outputs = tmp_path / "github_output"
    write_outputs(outputs, {"mismatches": mismatches_output([hostile])})
    for text in (*lines, outputs.read_text(encoding="utf-8")):
        assert not _invisible(text), text
        assert "<U+202E>" in text
