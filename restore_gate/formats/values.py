"""Putting checkpoint values into the branch model: shared by every format adapter.

The library's own restore runs when the metadata predict a clean match (so the gate
proves what users will run); otherwise each compatible value is assigned, so behaviour
can still be measured. Either way every model variable is then checked to hold the
checkpoint's value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from restore_gate.compare import Pairing
from restore_gate.errors import GateError


def restore_values(
    model: Pairing,
    optimizer: Pairing | None,
    read_value: Callable[[str], Any],
    library_restore: Callable[[], None] | None = None,
    described: str = "",
    passthrough: tuple[type[BaseException], ...] = (),
) -> int:
    """Restore, then verify; return the number of verified model variables.

    `optimizer=None` leaves the optimizer state alone. `library_restore` (TensorFlow's or
    Keras's own loader, `described` as e.g. "Keras's load_weights of x.weights.h5") is used
    only when the model and the optimizer both pair cleanly.
    """
    clean = model.clean and optimizer is not None and optimizer.clean
    if library_restore is not None and clean:
        try:
            library_restore()
        except (GateError, *passthrough):
            raise
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise GateError(
                "restore",
                f"{described} failed although the metadata match: {type(exc).__name__}: {first}",
                "report this with the checkpoint's `restore-gate inspect --json` output",
            ) from exc
    else:
        for pairing in (model, optimizer or Pairing()):
            for ckpt, model_var in pairing.compatible:
                if hasattr(model_var.obj, "assign"):
                    model_var.obj.assign(read_value(ckpt.key))
    return verify(model, read_value)


def verify(model: Pairing, read_value: Callable[[str], Any]) -> int:
    """Check that every restored model variable holds the checkpoint's value."""
    import numpy as np

    for ckpt, model_var in model.compatible:
        if not np.array_equal(np.asarray(model_var.obj.numpy()), read_value(ckpt.key)):
            raise GateError(
                "restore",
                f"after the restore, {model_var.name} does not hold the checkpoint's value "
                f"{ckpt.key}",
                "the model's object graph and the checkpoint disagree; report this with "
                "`restore-gate inspect --json` output",
            )
    return len(model.compatible)
