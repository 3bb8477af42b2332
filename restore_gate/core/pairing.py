"""Which checkpoint value each model variable would be restored from (set by the adapters)."""

from __future__ import annotations

from dataclasses import dataclass, field

from restore_gate.core.checkpoint import CkptVariable
from restore_gate.core.report import Mismatch
from restore_gate.core.variables import ModelVariable


@dataclass
class Pairing:
    """Which checkpoint value each model variable would be restored from."""

    matched: list[tuple[CkptVariable, ModelVariable]] = field(default_factory=list)
    missing: list[ModelVariable] = field(default_factory=list)
    unexpected: list[CkptVariable] = field(default_factory=list)
    # Set by format adapters (formats/): the likely cause of a missing variable, keyed by
    # id() of the model variable's object, and mismatches found beside the variables
    # (a SavedModel's serving signatures).
    notes: dict[int, str] = field(default_factory=dict)
    extra: list[Mismatch] = field(default_factory=list)
    # Set by format adapters: the established cause of every unmatched value (replaces the
    # generic hints; e.g. the Keras 2 -> 3 upgrade), and notices for the report.
    cause: str | None = None
    notices: list[str] = field(default_factory=list)
    # Where the branch's own loader reads each model variable from (id() of its object ->
    # a file key `encoder/vars/0`, or a TF object path `model/encoder/_kernel`), when known.
    paths: dict[int, str] = field(default_factory=dict)

    @property
    def compatible(self) -> list[tuple[CkptVariable, ModelVariable]]:
        return [(c, m) for c, m in self.matched if same_spec(c, m)]

    @property
    def clean(self) -> bool:
        return not self.missing and not self.unexpected and len(self.compatible) == len(
            self.matched
        )


def same_spec(ckpt: CkptVariable, model: ModelVariable) -> bool:
    return ckpt.shape == model.shape and ckpt.dtype == model.dtype
