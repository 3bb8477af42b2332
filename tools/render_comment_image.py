"""Render a stored comment (tests/data/render/NAME.md) as GitHub shows it, to a PNG.

cmark-gfm (GitHub's Markdown engine) gives the HTML, a small stylesheet after GitHub's
comment style, GitHub's `> [!NOTE]` alerts styled as GitHub draws them, and headless
Chromium takes the screenshot:

    python tools/render_comment_image.py drift docs/images/comment-drift.png
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cmarkgfm
from cmarkgfm.cmark import Options

REPO = Path(__file__).resolve().parent.parent
STYLE = """
body { font-family: -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif;
       font-size: 14px; line-height: 1.5; color: #1f2328; margin: 0; background: #fff; }
.comment { width: 860px; margin: 16px; border: 1px solid #d1d9e0; border-radius: 6px; }
.head { background: #f6f8fa; border-bottom: 1px solid #d1d9e0; padding: 8px 16px;
        color: #59636e; border-radius: 6px 6px 0 0; }
.head b { color: #1f2328; }
.body { padding: 4px 16px 8px; }
h2 { font-size: 1.5em; border-bottom: 1px solid #d1d9e0; padding-bottom: .3em; }
h3 { font-size: 1.25em; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 85%;
       background: #eff1f3; padding: .2em .4em; border-radius: 6px; }
a { color: #0969da; text-decoration: none; }
table { border-collapse: collapse; margin: 8px 0; display: block; overflow: auto; }
th, td { border: 1px solid #d1d9e0; padding: 6px 13px; }
tr:nth-child(2n) { background: #f6f8fa; }
.alert { border-left: .25em solid #0969da; padding: 0 1em; margin: 8px 0; }
.alert .title { color: #0969da; font-weight: 500; }
details summary { cursor: pointer; }
"""


def page(markdown: str) -> str:
    body = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    body = re.sub(r"<blockquote>\s*<p>\[!NOTE\]\s*", '<div class="alert"><p><span class="title">'
                  "ℹ️ Note</span><br>", body)
    body = body.replace("</blockquote>", "</div>")
    return (f"<!doctype html><meta charset='utf-8'><style>{STYLE}</style>"
            "<div class='comment'><div class='head'><b>github-actions</b> bot commented</div>"
            f"<div class='body'>{body}</div></div>")


def main(name: str, out: str) -> None:
    markdown = (REPO / "tests" / "data" / "render" / f"{name}.md").read_text(encoding="utf-8")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        sys.exit("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as folder:
        html = Path(folder) / "comment.html"
        html.write_text(page(markdown), encoding="utf-8")
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", "--window-size=900,1000",
                        f"--screenshot={Path(out).resolve()}", html.as_uri()],
                       check=True, capture_output=True, timeout=120)


if __name__ == "__main__":
    main(*sys.argv[1:3])
