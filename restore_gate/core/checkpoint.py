"""What a checkpoint holds, read from metadata only: the value `inspect` produces.

Format-specific readers live in `restore_gate/formats/`; each returns a
`CheckpointInfo` and knows how to pair it with a built model and restore it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODEL, OPTIMIZER, OTHER = "model", "optimizer", "other"


@dataclass
class CkptVariable:
    """One saved value: human name, layer, the raw key in the file, shape and dtype."""

    name: str
    layer: str
    key: str
    shape: list[int] | None
    dtype: str
    group: str = MODEL  # model | optimizer | other
    # The object path of the variable it was saved from, when the file establishes it
    # (positional TF checkpoints: layer name + weight); see restore_gate/branch/identity.py.
    identity: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layer": self.layer,
            "key": self.key,
            "shape": self.shape,
            "dtype": self.dtype,
            "group": self.group,
        }


@dataclass
class CheckpointInfo:
    """A checkpoint's format, variables and writer versions, without tensor data."""

    format: str
    path: Path
    variables: list[CkptVariable]
    written_by: dict[str, str] = field(default_factory=dict)
    optimizer_type: str | None = None
    files: list[Path] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # format-specific, not serialized
    # Format-specific facts `inspect --json` shows beside the variables (signatures,
    # layer classes, problems); set by the adapters in formats/.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return sum(f.stat().st_size for f in self.files if f.is_file())

    def group(self, name: str) -> list[CkptVariable]:
        return [v for v in self.variables if v.group == name]

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "path": str(self.path),
            "written_by": self.written_by,
            "optimizer": self.optimizer_type,
            "bytes": self.bytes,
            "variables": [v.as_dict() for v in self.variables],
            **self.extra,
        }


def layer_of(name: str) -> str:
    """`hidden/kernel` -> `hidden`; a bare name is its own layer."""
    return name.rsplit("/", 1)[0] if "/" in name else name
