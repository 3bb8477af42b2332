"""Move the function-level imports that tests/test_layers.py refuses to the top of their module.

    python tools/hoist_imports.py

Each such statement is cut from its function and added after the module's last top-level
import; ruff then merges and sorts them (and a name imported twice stays once). Safe once the
layer test finds no cycle: an import at the top can only fail where a module cycle exists.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import test_layers  # noqa: E402  (the rule lives in the test)


def hoist(path: Path, lines_to_move: set[int]) -> None:
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    lines = text.split("\n")
    moved, spans = [], []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and node.lineno in lines_to_move:
            moved.append(ast.get_source_segment(text, node))
            spans.append((node.lineno, node.end_lineno))
    for start, end in sorted(spans, reverse=True):
        del lines[start - 1:end]
        # an import block followed by a blank line: drop the blank too when the block is gone
        if (start - 1 < len(lines) and not lines[start - 1].strip()
                and (start < 2 or not lines[start - 2].strip() or lines[start - 2].rstrip()
                     .endswith(":") or lines[start - 2].lstrip().startswith('"""'))):
            del lines[start - 1]
    tree = ast.parse("\n".join(lines))
    last = max(n.end_lineno for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))
    lines[last:last] = moved
    path.write_text("\n".join(lines), encoding="utf-8")


def main() -> int:
    wanted: dict[Path, set[int]] = {}
    for entry in test_layers.lazy_imports_not_allowed():
        file, line, _ = entry.split(":", 2)
        wanted.setdefault(ROOT / file, set()).add(int(line))
    for path, lines in wanted.items():
        hoist(path, lines)
    files = [str(p) for p in wanted]
    if files:
        subprocess.run(["ruff", "check", "--fix", "-q", "--select", "I,F401,F811", *files],
                       check=False)
    print(f"hoisted {sum(map(len, wanted.values()))} imports in {len(wanted)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
