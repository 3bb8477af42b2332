"""Move restore_gate's flat modules into packages by stage, and rewrite every reference to them.

    python tools/relayout.py            # from the repository root, on a clean checkout

It `git mv`s each module in MOVES, then rewrites, in every tracked text file:
- Python imports (module-level and function-level, found with `ast`): `from old import x`,
  `from parent import old_leaf [as y]`, `import old`;
- dotted names anywhere else (`"restore_gate.check:main"`, monkeypatch strings, `python -m`,
  docstrings, README, Dockerfile, action.yml, pyproject.toml) and paths (`restore_gate/old.py`);
then sorts the imports it touched (`ruff check --select I --fix`).

Re-running it is safe: a move whose source is gone is skipped, and no new name starts with an
old one followed by a dot, so nothing is rewritten twice. The map is the one place to edit when
main gains a module: add it here and run again.

Replaying the whole relayout on a newer main: run this script and commit ("relayout: pure
moves"); cherry-pick the branch's later commits in order (each is one small extraction;
tools/move_symbols.py redoes a symbol move where a pick conflicts); then
`python tools/hoist_imports.py` and `pytest tests/test_layers.py tests/test_keras_internals.py`
show what a newer main added against the layering and the fence.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = "restore_gate"

# old module (relative to restore_gate) → new module. New packages get an __init__.py (PACKAGES).
MOVES: dict[str, str] = {
    # core: value types only
    "checkpoint": "core.checkpoint",
    "report": "core.report",
    # settings (stage "config")
    "config": "settings.config",
    "base_config": "settings.base",
    # release acquisition (stage "fetch")
    "source": "release.source",
    "fetch": "release.download",
    "bundle": "release.bundle",
    # formats (stage "inspect"), split by family
    "formats.keras_v3": "formats.keras.v3",
    "formats.keras_h5": "formats.keras.h5",
    "formats.keras_config": "formats.keras.config",
    "formats.keras_walk": "formats.keras.walk",
    "formats.hdf5_guard": "formats.keras.hdf5_guard",
    "formats.tf_checkpoint": "formats.tensorflow.checkpoint",
    "formats.tf1_checkpoint": "formats.tensorflow.tf1_checkpoint",
    "formats.tf_files": "formats.tensorflow.files",
    "formats.tf_index": "formats.tensorflow.index",
    "formats.tf_raw": "formats.tensorflow.raw",
    "formats._table": "formats.tensorflow._table",
    "formats._tf_protos": "formats.tensorflow._protos",
    "formats.saved_model": "formats.tensorflow.saved_model",
    "formats.saved_model_pb": "formats.tensorflow.saved_model_pb",
    "formats.signatures": "formats.tensorflow.signatures",
    "formats.untracked": "formats.tensorflow.untracked",
    "formats.zip_member": "formats.keras.zip_member",  # on main after 618f4c5
    # the fence around private TF/Keras names
    "keras_internals": "_compat.keras",
    "formats.keras_refs": "_compat.keras_refs",
    # branch build (stage "build")
    "build": "branch.build",
    "strategy": "branch.strategy",
    "identity": "branch.identity",
    # judge: pure verdict rules
    "compare": "judge.compare",
    "drift": "judge.drift",
    # evaluation (stage "evaluate"); not `measure/`: that name is today's measure.py
    "measure": "evaluation.measure",
    "evaluate": "evaluation.evaluate",
    "trace": "evaluation.trace",
    "baseline": "evaluation.baseline",
    # pipeline: the check command's stages in order
    "check": "pipeline.check",
    "deadline": "pipeline.deadline",
    # presentation: Markdown, no TF, no I/O
    "render": "present.render",  # split into markdown.py + comment.py by a later commit
    "diagnose": "present.diagnose",
    "layer_table": "present.layer_table",
    "grouping": "present.grouping",
    "links": "present.links",
    "publish.merge": "present.merge",
    # GitHub I/O edge
    "publish.workflow": "github.actions",
    "publish.context": "github.context",
    # commands
    "inspect_cmd": "commands.inspect",
    "snapshot": "commands.snapshot",
    "migrate": "commands.migrate",
    "demo": "commands.demo",
    # the container action
    "unprivileged": "action.sandbox",
    "copied_report": "action.copied_report",  # on main after 618f4c5
}

PACKAGES: dict[str, str] = {
    "core": "Value types shared by every stage: stdlib and errors only, no TF, no I/O.",
    "settings": "Stage `config`: the configuration file and the base commit's settings.",
    "release": "Stage `fetch`: where the released checkpoint comes from, downloads, bundles.",
    "formats.keras": "Keras formats: `.keras` zips, legacy `.h5`, the model config.",
    "formats.tensorflow": "TensorFlow formats: object-based and TF1 checkpoints, SavedModel.",
    "_compat": "Every private TensorFlow/Keras name restore-gate uses, each pinned by a test.",
    "branch": "Stage `build`: the pull request's model, built from its builder.",
    "restore": "Stage `restore`: the released checkpoint into the branch's model.",
    "judge": "Pure verdict rules: mismatches, optimizer state, drift. No TF, no I/O.",
    "evaluation": "Stage `evaluate`: outputs, metrics, the baseline and the divergence trace.",
    "pipeline": "The check: the stages in order, each under its time limit, fail closed.",
    "present": "Markdown for the comment and the job summary. No TF, no I/O.",
    "commands": "The CLI's commands other than check and publish.",
    "action": "The container action: GitHub's inputs, the unprivileged sandbox, outputs.",
}

# Files moved outright (not Python modules of the package), then left behind as a shim.
FILE_MOVES = {"entrypoint.py": "restore_gate/action/entrypoint.py"}
SHIMS = {"entrypoint.py": '''"""The image's entry point: restore_gate/action/entrypoint.py."""

import sys

from restore_gate.action.entrypoint import *  # noqa: F403  (tests read its names here)
from restore_gate.action.entrypoint import main

if __name__ == "__main__":
    sys.exit(main())
'''}

# Text that a pure move makes wrong and no import rewrite can fix: (file, old, new).
FIXUPS = [
    ("restore_gate/branch/build.py",  # restore_gate's own directory, not branch/
     "package = Path(__file__).resolve().parent\n",
     "package = Path(__file__).resolve().parent.parent\n"),
]

TEXT_SUFFIXES = {".py", ".md", ".yml", ".yaml", ".toml", ".txt", ".cfg", ".json", ""}


def full(name: str) -> str:
    return f"{PACKAGE}.{name}"


FULL = {full(old): full(new) for old, new in MOVES.items()}


def to_path(module: str) -> Path:
    return Path(*module.split("."))


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def move_files() -> None:
    for old, new in MOVES.items():
        source = to_path(full(old)).with_suffix(".py")
        target = to_path(full(new)).with_suffix(".py")
        if source.exists() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            git("mv", str(source), str(target))
    for name, doc in PACKAGES.items():
        init = to_path(full(name)) / "__init__.py"
        if not init.exists():
            init.parent.mkdir(parents=True, exist_ok=True)
            init.write_text(f'"""{doc}"""\n', encoding="utf-8")
            git("add", str(init))
    for source, target in FILE_MOVES.items():
        if Path(source).exists() and not Path(target).exists():
            git("mv", source, target)
    for path, text in SHIMS.items():
        if not Path(path).exists():
            Path(path).write_text(text, encoding="utf-8")
            git("add", path)


def import_lines(indent: str, module: str, names: list[tuple[str, str | None]]) -> list[str]:
    parts = [name if asname in (None, name) else f"{name} as {asname}" for name, asname in names]
    one = f"{indent}from {module} import {', '.join(parts)}"
    if len(one) <= 100:
        return [one]
    return [f"{indent}from {module} import (", *[f"{indent}    {p}," for p in parts], f"{indent})"]


def rewrite_import(node: ast.ImportFrom, indent: str) -> list[str] | None:
    module = node.module or ""
    if node.level or not module.startswith(PACKAGE):
        return None
    if module in FULL:
        names = [(a.name, a.asname) for a in node.names]
        return import_lines(indent, FULL[module], names)
    kept: list[tuple[str, str | None]] = []
    moved: dict[str, list[tuple[str, str | None]]] = {}
    for alias in node.names:
        target = FULL.get(f"{module}.{alias.name}")
        if target is None:
            kept.append((alias.name, alias.asname))
            continue
        parent, leaf = target.rsplit(".", 1)
        moved.setdefault(parent, []).append((leaf, alias.asname or alias.name))
    if not moved:
        return None
    lines = import_lines(indent, module, kept) if kept else []
    for parent, names in moved.items():
        lines += import_lines(indent, parent, names)
    return lines


def rewrite_imports(text: str) -> str:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    lines = text.split("\n")
    edits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            first = lines[node.lineno - 1]
            indent = first[: len(first) - len(first.lstrip())]
            new = rewrite_import(node, indent)
            if new is not None:
                last = lines[node.end_lineno - 1]
                tail = last[node.end_col_offset:]
                if new and tail.strip():
                    new[-1] += tail
                edits.append((node.lineno, node.end_lineno, new))
    for start, end, new in sorted(edits, reverse=True):
        lines[start - 1:end] = new
    return "\n".join(lines)


def rewrite_names(text: str) -> str:
    olds = sorted(FULL, key=len, reverse=True)
    dotted = re.compile(r"(?<![\w.])(" + "|".join(re.escape(o) for o in olds) + r")(?!\w)")
    text = dotted.sub(lambda m: FULL[m.group(1)], text)
    paths = {str(to_path(o)) + ".py": str(to_path(n)) + ".py" for o, n in FULL.items()}
    slashed = re.compile(r"(?<![\w/.])(" + "|".join(re.escape(p) for p in
                                                   sorted(paths, key=len, reverse=True)) + ")")
    return slashed.sub(lambda m: paths[m.group(1)], text)


def name_of(path: Path) -> str:
    return path.as_posix()


def tracked_text_files() -> list[Path]:
    files = []
    for name in git("ls-files").splitlines():
        path = Path(name)
        if not path.is_file() or path.suffix not in TEXT_SUFFIXES:
            continue
        if name.startswith("tests/data/") and path.suffix != ".py":
            continue
        if path.suffix == "" and path.name not in {"Dockerfile"}:
            continue
        if name == "tools/relayout.py":
            continue
        files.append(path)
    return files


def main() -> int:
    if not Path(PACKAGE).is_dir():
        print("run from the repository root", file=sys.stderr)
        return 2
    move_files()
    changed = []
    for path in tracked_text_files():
        text = path.read_text(encoding="utf-8")
        new = rewrite_imports(text) if path.suffix == ".py" else text
        if name_of(path) not in SHIMS:
            new = rewrite_names(new)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    for file, old, new in FIXUPS:
        path = Path(file)
        text = path.read_text(encoding="utf-8")
        if old in text:
            path.write_text(text.replace(old, new), encoding="utf-8")
    python = [str(p) for p in changed if p.suffix == ".py"]
    if python and shutil.which("ruff"):
        subprocess.run(["ruff", "check", "--select", "I", "--fix", "-q", *python], check=False)
    print(f"moved {len(MOVES)} modules; rewrote {len(changed)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
