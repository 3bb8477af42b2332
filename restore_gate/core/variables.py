"""The branch's model as built: its variables, optimizer and where each layer was made."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from restore_gate.core.checkpoint import MODEL


@dataclass
class ModelVariable:
    """One variable of the branch model (or of its optimizer)."""

    name: str
    layer: str
    shape: list[int] | None
    dtype: str
    obj: Any = field(repr=False)
    group: str = MODEL
    identity: str | None = None  # the object path it is reached by (identity.py)


@dataclass
class BuiltModel:
    model: Any
    optimizer: Any | None
    variables: list[ModelVariable]
    optimizer_variables: list[ModelVariable]
    sources: dict[str, str]
    notices: list[str] = field(default_factory=list)  # what the gate did to build the model
    strategy: Any | None = None  # the tf.distribute strategy it was built under (strategy.py)

    @property
    def optimizer_type(self) -> str | None:
        return type(self.optimizer).__name__ if self.optimizer is not None else None

    def source_of(self, layer: str) -> str | None:
        """The `file:line` of a layer: its path, else its innermost known name.

        Keras 3 paths of subclassed models carry the model's name (`net/dense`):
        the layer `dense` is the one to point at, not the model `net`.
        """
        parts = layer.split("/")
        for candidate in ["/".join(parts), *reversed(parts)]:
            found = self.sources.get(candidate)
            if found:
                return found
        return None
