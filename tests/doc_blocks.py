"""The fenced blocks of README.md and docs/*.md, with where each sits, for the tests that
check them (tests/test_docs.py, test_checklist.py, test_workflows_lint.py, test_release.py).

markdown-it-py parses the pages as CommonMark does, so a block inside a list item (the
checklist's) comes out dedented; an HTML comment right before a block is its marker
(`<!-- reference: validated only -->`, `<!-- parsed only: why -->`, `<!-- error example -->`).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
QUICK_START = "Quick start"
CHECKLIST = "Use it in your repository"


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    section: str  # the `## ` heading it sits under ("" before the first)
    marker: str  # the HTML comment right before it, without <!-- -->, else ""

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    tokens = MarkdownIt("commonmark").parse(page.read_text(encoding="utf-8"))
    found, section, previous = [], "", None
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h2":
            section = tokens[index + 1].content
        if token.type == "fence":
            marker = ""
            if previous is not None and previous.type == "html_block":
                match = re.fullmatch(r"\s*<!--\s*(.*?)\s*-->\s*", previous.content, re.S)
                marker = match.group(1) if match else ""
            found.append(Block(page, token.map[0] + 1, token.info.strip(), token.content,
                               section, marker))
        if token.type in ("fence", "html_block", "paragraph_open", "bullet_list_open",
                          "heading_open", "table_open"):
            previous = token
    return found


def all_blocks() -> list[Block]:
    return [block for page in PAGES for block in blocks(page)]


def workflows() -> list[Block]:
    """The yaml blocks that are whole workflows (a `jobs:` key)."""
    return [b for b in all_blocks() if b.lang == "yaml" and re.search(r"^jobs:", b.text, re.M)]


def checklist() -> list[Block]:
    """The README's "Use it in your repository" blocks, in order."""
    return [b for b in blocks(REPO / "README.md") if b.section == CHECKLIST]


def docs_text() -> str:
    """README and every docs page, as one text."""
    return "\n".join(page.read_text(encoding="utf-8") for page in PAGES)


def commands(text: str) -> list[list[str]]:
    """Each simple command of a shell block: continuation lines joined, comments dropped,
    split at `&&`, `||`, `;` and `|`."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        current: list[str] = []
        for word in [*words, "&&"]:
            if word in ("&&", "||", ";", "|"):
                if current:
                    found.append(current)
                current = []
            else:
                current.append(word)
    return found
