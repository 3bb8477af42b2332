"""Readable lines for the format-specific facts `inspect` shows (signatures, classes)."""

from __future__ import annotations

from typing import Any


def extra_lines(data: dict[str, Any]) -> list[str]:
    """Problems, serving signatures and the release's layer classes, one per line."""
    lines = [f"problem: {problem}" for problem in data.get("problems", [])]
    lines += [f"init op: {op}" for op in data.get("init_ops", [])]
    for key, signature in (data.get("signatures") or {}).items():
        inputs = _tensors(signature.get("inputs", {}))
        outputs = _tensors(signature.get("outputs", {}))
        lines.append(f"signature {key}: ({inputs}) -> ({outputs})")
    classes = data.get("layer_classes") or []
    if classes:
        lines.append("layer classes:")
        for entry in classes:
            custom = f"  [custom, registered as {entry.get('registered_name') or '?'}, module " \
                f"{entry.get('module') or '?'}]" if entry.get("custom") else ""
            unsafe = "  [Lambda: holds Python code, never executed]" \
                if entry.get("class_name") == "Lambda" else ""
            lines.append(f"  {entry.get('name') or '?'}: {entry['class_name']}{custom}{unsafe}")
    return lines


def _tensors(tensors: dict[str, dict]) -> str:
    return ", ".join(f"{name}: {t['dtype']}{_shape(t['shape'])}" for name, t in tensors.items())


def _shape(shape: list | None) -> str:
    if shape is None:
        return "[unknown rank]"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
