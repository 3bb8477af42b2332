"""Imports go one way: each part of restore_gate imports only from the layers below it.

Every import in restore_gate/ is read with `ast`, function-level ones included. A part is a
subpackage or a top-level module (`restore_gate.formats`, `restore_gate.cli`); it may import
itself and any part in a lower layer, never one in its own layer or above, so there is no
cycle between parts. Inside a part, modules import each other without a cycle too.

Function-level imports are for lazy loading only: TensorFlow, Keras and h5py (LAZY), a few
heavy libraries kept off the CLI's start-up path (LAZY_HEAVY), and restore_gate's own modules
only where the CLI loads a command (LAZY_OWN). Anything else goes at the top of the module.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "restore_gate"

# Bottom to top: the data flow settings → release → formats → branch → restore → judge →
# evaluation → pipeline → presentation → GitHub I/O → commands / action.
LAYERS: list[tuple[str, ...]] = [
    ("restore_gate", "errors", "example"),  # the package root (__version__), GateError, the demo
    ("limits", "schemas"),  # caps on untrusted input; the JSON Schemas
    ("core",),  # value types: checkpoint, pairing, report, manifest; no TF, no I/O
    ("runtime", "git", "_compat", "judge", "present"),  # TF import, git, private TF/Keras
    # names; pure verdict rules; Markdown
    ("settings", "formats", "github"),  # the config; reading checkpoints; GitHub REST + Actions
    ("release", "branch"),  # acquiring the release; building the pull request's model
    ("restore",),  # the release into the branch's model
    ("evaluation",),  # outputs, metrics, baseline, trace
    ("pipeline",),  # `check`: the stages in order
    ("commands", "publish"),  # inspect, snapshot, migrate, demo; publish
    ("cli",),
    ("action", "__main__"),  # the container action; `python -m restore_gate`
]
LAZY = {"tensorflow", "keras", "h5py"}
LAZY_HEAVY = {  # third-party imports kept lazy on purpose, and why
    "numpy": "inspect of a TF index and `restore-gate --help` need no NumPy",
    "jsonschema": "a schema is compiled only when a config or report is validated",
    "google": "protobuf message parsing only when a checkpoint's protos are read; the GCS "
              "client only when a gs:// release is read",
    "botocore": "release stores: each store's client is an optional extra, loaded when used",
    "boto3": "release stores: each store's client is an optional extra, loaded when used",
    "mlflow": "release stores: each store's client is an optional extra, loaded when used",
    "huggingface_hub": "release stores: each store's client is an optional extra, loaded when "
                       "used",
}
LAZY_OWN = {  # modules that may import restore_gate modules inside a function, and why
    "restore_gate.cli": "each command's module is imported when that command runs (like pip)",
    "restore_gate.release.source": "the HTTP client (requests) loads only when a release is "
                                   "downloaded: `inspect` of a local file never needs it",
}


def layer_of(part: str) -> int:
    for index, names in enumerate(LAYERS):
        if part in names:
            return index
    raise AssertionError(f"{part} is in no layer: add it to LAYERS in {__file__}")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    """`restore_gate.formats.keras.v3` → `formats`; the root package → `restore_gate`."""
    names = module.split(".")
    return names[1] if len(names) > 1 else names[0]


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> Iterator[tuple[ast.stmt, list[str], bool]]:
    """(node, modules it imports, whether at module level) for every import in the file;
    `from package import submodule` counts as importing the submodule."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module_level = {id(n) for stmt in tree.body if not _is_def(stmt) for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES
                       else node.module for a in node.names]
        else:
            continue
        yield node, targets, id(node) in module_level


def _is_def(stmt: ast.stmt) -> bool:
    return isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))


def own_edges() -> list[tuple[str, str, str]]:
    """(importer, imported, file:line) for every import of one restore_gate module by another."""
    edges = []
    for name, path in MODULES.items():
        for node, targets, _ in imports(path):
            for target in targets:
                if target.split(".")[0] == "restore_gate" and target != name:
                    where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                    edges.append((name, target, where))
    return edges


def upward(edges: list[tuple[str, str, str]]) -> list[str]:
    found = []
    for importer, imported, where in edges:
        mine, theirs = part_of(importer), part_of(imported)
        if mine != theirs and layer_of(theirs) >= layer_of(mine):
            found.append(f"{where}: {mine} (layer {layer_of(mine)}) imports {imported} "
                         f"(layer {layer_of(theirs)})")
    return found


def cycles(edges: list[tuple[str, str, str]]) -> list[list[str]]:
    """Import cycles between modules (strongly connected components of more than one), by
    tools/layout_figures.py's search, which prints the same figure."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "layout_figures", Path(__file__).resolve().parent.parent / "tools" / "layout_figures.py")
    figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figures)
    graph: dict[str, set[str]] = {}
    for importer, imported, _ in edges:
        graph.setdefault(importer, set()).add(imported)
    return figures.cycles(graph)


def lazy_imports_not_allowed() -> list[str]:
    found = []
    for name, path in MODULES.items():
        for node, targets, module_level in imports(path):
            if module_level:
                continue
            root = targets[0].split(".")[0]
            if root in LAZY or root in LAZY_HEAVY or (root == "restore_gate" and name in LAZY_OWN):
                continue
            found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {targets[0]}")
    return found


def test_every_part_is_in_a_layer():
    for name in MODULES:
        layer_of(part_of(name))


def test_no_import_points_up_or_sideways():
    assert upward(own_edges()) == []


def test_no_import_cycle_between_modules():
    assert cycles(own_edges()) == []


def test_function_level_imports_are_only_for_lazy_loading():
    assert lazy_imports_not_allowed() == []


@pytest.mark.parametrize("planted", [
    ("restore_gate.core.pairing", "restore_gate.formats.values", "planted"),  # core → formats
    ("restore_gate.present.markdown", "restore_gate.github.context", "planted"),  # sideways
])
def test_a_planted_upward_import_is_caught(planted):
    assert upward([*own_edges(), planted]) == [
        f"planted: {part_of(planted[0])} (layer {layer_of(part_of(planted[0]))}) imports "
        f"{planted[1]} (layer {layer_of(part_of(planted[1]))})"]


def test_a_planted_cycle_is_caught():
    planted = ("restore_gate.formats.generation", "restore_gate.formats.keras.h5", "planted")
    assert any("restore_gate.formats.generation" in c for c in cycles([*own_edges(), planted]))


def test_a_function_level_import_is_seen(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("import os\n\ndef f():\n    import json\n    from restore_gate import x\n")
    found = [(targets, top) for _, targets, top in imports(source)]
    assert found == [(["os"], True), (["json"], False), (["restore_gate"], False)]


def test_the_readme_map_names_every_part():
    """docs/development.md's "The packages, in data-flow order" names every package and
    top-level module in its first column, and nothing that is not there."""
    text = (PACKAGE.parent / "docs" / "development.md").read_text(encoding="utf-8")
    start = text.index("## The packages, in data-flow order")
    block = text[start:text.index("```\n", text.index("```", start) + 3)]
    listed = set()
    for line in block.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            listed.update(name.rstrip("/").removesuffix(".py")
                          for name in re.split(r"\s{2,}", line.strip())[0].split())
    parts = {part_of(name) for name in MODULES} - {"restore_gate", "__main__"}
    assert (sorted(parts - listed), sorted(listed - parts)) == ([], [])
