"""Figures on restore_gate's shape, for before → after notes on the layout.

    python tools/layout_figures.py

Prints: modules at the top level of the package, import cycles between packages (and between
top-level modules), function-level imports by kind, `dict[str, Any]` annotations, and private
TF/Keras names used outside restore_gate/_compat/.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "restore_gate"
LAZY = ("tensorflow", "keras", "h5py")
PRIVATE = re.compile(r"\b(_save_state|_load_state|H5IOStore|_flatten_layers|_tracked|"
                     r"_trainable_variables|tensorflow\.python|_EagerSavedModelLoader|saving_lib|"
                     r"_build_functions|_build_v1_graph|keras\.src)\b")


def module_name(path: Path) -> str:
    """`restore_gate/formats/__init__.py` → `restore_gate.formats`."""
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(f) for f in ROOT.rglob("*.py")}


def unit(module: str) -> str:
    """The package (or top-level module) a module belongs to: restore_gate.X."""
    return ".".join(module.split(".")[:2])


def imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if all(n in MODULES for n in names[1:]):  # `from package import submodule`
                names = names[1:]
        else:
            continue
        yield names, id(node) in top or _guarded(tree, node)


def _guarded(tree: ast.Module, node: ast.AST) -> bool:
    """Module level under `if TYPE_CHECKING:` / try: counts as module level."""
    for stmt in tree.body:
        if isinstance(stmt, (ast.If, ast.Try)) and any(n is node for n in ast.walk(stmt)):
            return True
    return False


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(edges):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def main() -> int:
    files = sorted(ROOT.rglob("*.py"))
    modules = {module_name(f) for f in files}
    top = [f for f in files if f.parent == ROOT and f.name not in ("__init__.py", "__main__.py")]
    kinds: Counter[str] = Counter()
    unit_edges: dict[str, set[str]] = {}
    module_edges: dict[str, set[str]] = {}
    dict_any = private = 0
    for f in files:
        me = module_name(f)
        text = f.read_text(encoding="utf-8")
        dict_any += text.count("dict[str, Any]")
        if "_compat" not in f.parts and f.name != "keras_internals.py":  # the fence
            private += sum(1 for line in text.splitlines() if PRIVATE.search(line))
        for names, module_level in imports(f):
            root = names[0].split(".")[0]
            if not module_level:
                kinds[root if root in LAZY else ("restore_gate" if root == "restore_gate"
                                                  else "other")] += 1
            for name in names:
                if name in modules and name != me:
                    module_edges.setdefault(me, set()).add(name)
                    if unit(name) != unit(me):
                        unit_edges.setdefault(unit(me), set()).add(unit(name))
    print(f"top-level modules: {len(top)}")
    print(f"module cycles: {len(cycles(module_edges))}: "
          + "; ".join(" ↔ ".join(c) for c in cycles(module_edges)))
    print(f"package cycles: {len(cycles(unit_edges))}: "
          + "; ".join(" ↔ ".join(c) for c in cycles(unit_edges)))
    print(f"function-level imports: {sum(kinds.values())} {dict(sorted(kinds.items()))}")
    print(f"dict[str, Any] annotations: {dict_any}")
    print(f"private TF/Keras lines outside _compat: {private}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
