"""Move top-level definitions from one module to another and rewrite every import of them.

    python tools/move_symbols.py restore_gate.branch.build restore_gate.core.variables \
        ModelVariable BuiltModel

Cuts each named class, function or assignment (with its decorators and the comment lines just
above it) from the source module, appends it to the target (created with `doc` if missing;
the source's imports are copied and ruff drops the unused ones), and rewrites
`from source import name` in every tracked Python file. The source imports the names back
when it still uses them. Used for the relayout's extractions, so they can be replayed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path


def path_of(module: str) -> Path:
    base = Path(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def defined(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return {node.name}
    if isinstance(node, ast.Assign):
        targets = [e for t in node.targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
        return {t.id for t in targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def cut(text: str, names: set[str]) -> tuple[str, str, str]:
    """(source without the definitions, the definitions, the source's import block)."""
    tree = ast.parse(text)
    lines = text.split("\n")
    spans = []
    for node in tree.body:
        if defined(node) & names:
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            while start > 1 and lines[start - 2].startswith("#"):
                start -= 1
            spans.append((start, node.end_lineno))
    imports = [ast.get_source_segment(text, n) for n in tree.body
               if isinstance(n, (ast.Import, ast.ImportFrom))
               and getattr(n, "module", None) != "__future__"]
    merged: list[tuple[int, int]] = []
    for s, e in spans:  # definitions on adjacent lines stay one block
        if merged and s == merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    spans = merged
    moved = ["\n".join(lines[s - 1:e]) for s, e in spans]
    for s, e in sorted(spans, reverse=True):
        del lines[s - 1:e]
    return "\n".join(lines), "\n\n\n".join(moved), "\n".join(i for i in imports if i)


def _line(indent: str, module: str, aliases: list[ast.alias]) -> str:
    parts = [a.name + (f" as {a.asname}" if a.asname else "") for a in aliases]
    return f"{indent}from {module} import {', '.join(parts)}"


def rewrite_importers(source: str, target: str, names: set[str]) -> list[Path]:
    changed = []
    for name in subprocess.run(["git", "ls-files", "*.py"], capture_output=True, text=True,
                               check=True).stdout.split():
        path = Path(name)
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if source not in text:
            continue
        tree = ast.parse(text)
        lines = text.split("\n")
        edits = []
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ImportFrom) and node.module == source):
                continue
            moving = [a for a in node.names if a.name in names]
            if not moving:
                continue
            staying = [a for a in node.names if a.name not in names]
            first = lines[node.lineno - 1]
            indent = first[: len(first) - len(first.lstrip())]

            new = ([_line(indent, source, staying)] if staying else []) + [
                _line(indent, target, moving)]
            tail = lines[node.end_lineno - 1][node.end_col_offset:]
            new[-1] += tail
            edits.append((node.lineno, node.end_lineno, new))
        for s, e, new in sorted(edits, reverse=True):
            lines[s - 1:e] = new
        if edits:
            path.write_text("\n".join(lines), encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: list[str]) -> int:
    source, target, *wanted = argv
    doc = ""
    if "--doc" in wanted:
        at = wanted.index("--doc")
        doc, wanted = wanted[at + 1], wanted[:at] + wanted[at + 2:]
    names = set(wanted)
    src_path, dst_path = path_of(source), path_of(target)
    rest, moved, imports = cut(src_path.read_text(encoding="utf-8"), names)
    if not moved:
        print(f"nothing named {sorted(names)} in {source}", file=sys.stderr)
        return 1
    if dst_path.exists():
        dst = dst_path.read_text(encoding="utf-8").rstrip("\n")
        head, sep, body = dst.partition("\n\n\n")
        dst = f"{head}\n{imports}{sep}{body}\n\n\n{moved}\n"
    else:
        dst_path.parent.mkdir(parents=True, exist_ok=True)
        dst = (f'"""{doc or "TODO"}"""\n\nfrom __future__ import annotations\n\n{imports}\n\n\n'
               f"{moved}\n")
    dst_path.write_text(dst, encoding="utf-8")
    still = {n for n in names if n in rest}
    if still:
        tree = ast.parse(rest)
        last = max((n.end_lineno for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))),
                   default=0)
        lines = rest.split("\n")
        lines.insert(last, f"from {target} import {', '.join(sorted(still))}")
        rest = "\n".join(lines)
    src_path.write_text(rest.rstrip("\n") + "\n", encoding="utf-8")
    changed = rewrite_importers(source, target, names)
    files = sorted({str(p) for p in [src_path, dst_path, *changed]})
    subprocess.run(["git", "add", str(dst_path)], check=True)
    subprocess.run(["ruff", "check", "--fix", "-q", "--select", "F401,I", *files], check=False)
    print(f"moved {sorted(names)} → {target}; rewrote {len(changed)} importers")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
