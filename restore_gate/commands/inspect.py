"""`restore-gate inspect`: a checkpoint's variables, format and writer versions."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from restore_gate import formats
from restore_gate.formats.describe import extra_lines
from restore_gate.release.source import local


def inspect_checkpoint(path: Path, declared: str = "auto") -> dict:
    """The `inspect --json` object (bundles are unpacked to a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="restore-gate-") as workdir:
        source = local(path, Path(workdir))
        info = formats.read(source.path, declared)
        data = info.as_dict()
        data["path"] = str(path)
        if source.manifest:
            data["written_by"].update(
                {k: v for k, v in source.manifest.get("versions", {}).items() if v}
            )
    return data


def format_text(data: dict) -> str:
    """A readable listing: one line per variable."""
    written = ", ".join(f"{k} {v}" for k, v in data["written_by"].items()) or "not recorded"
    lines = [
        f"{data['path']}: {data['format']}, {len(data['variables'])} values, "
        f"{data['bytes']} bytes; written by: {written}",
    ]
    if data.get("optimizer"):
        lines.append(f"optimizer: {data['optimizer']}")
    lines += extra_lines(data)  # signatures, layer classes, problems (formats/describe.py)
    width = max((len(v["name"]) for v in data["variables"]), default=4)
    for v in data["variables"]:
        shape = "scalar" if v["shape"] == [] else "x".join(map(str, v["shape"] or ["?"]))
        group = "" if v["group"] == "model" else f" [{v['group']}]"
        lines.append(f"  {v['name']:<{width}}  {shape:>14} {v['dtype']:<8} {v['key']}{group}")
    return "\n".join(lines)


def to_json(data: dict) -> str:
    return json.dumps(data, indent=2)
