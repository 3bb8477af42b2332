"""Putting checkpoint values into the branch model: shared by every format adapter.

The library's own restore runs when the metadata predict a clean match (so the gate
proves what users will run); otherwise each compatible value is assigned, so behaviour
can still be measured. Either way every model variable is then checked to hold the
checkpoint's value, streamed in slices of rows (`CHUNK_BYTES`), so the check holds no second
copy of the weights, nor of any one tensor: adapters hand out `LazyValue`s that read a slice
of the file at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from restore_gate.core.pairing import Pairing
from restore_gate.errors import GateError, first_line


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
            raise GateError(
                "restore",
                f"{described} failed although the metadata match: {first_line(exc)}",
                "report this with the checkpoint's `restore-gate inspect --json` output",
                code="restore-failed",
            ) from exc
    else:
        for pairing in (model, optimizer or Pairing()):
            for ckpt, model_var in pairing.compatible:
                if hasattr(model_var.obj, "assign"):
                    model_var.obj.assign(full_value(read_value(ckpt.key)))
    return verify(model, read_value)


def verify(model: Pairing, read_value: Callable[[str], Any]) -> int:
    """Check that every restored model variable holds the checkpoint's value."""
    for ckpt, model_var in model.compatible:
        if not _holds(model_var.obj, read_value(ckpt.key)):
            raise GateError(
                "restore",
                f"after the restore, {model_var.name} does not hold the checkpoint's value "
                f"{ckpt.key}",
                "the model's object graph and the checkpoint disagree; report this with "
                "`restore-gate inspect --json` output",
                code="restore-unverified",
            )
    return len(model.compatible)


CHUNK_BYTES = 16 << 20


@dataclass(frozen=True)
class LazyValue:
    """A checkpoint value read on demand: `rows(start, stop)` of its first axis, or `full()`."""

    shape: tuple[int, ...]
    itemsize: int
    rows: Callable[[int, int], Any]
    full: Callable[[], Any]


def full_value(value: Any) -> Any:
    """The whole value (one tensor in memory at a time, as the library's own restore does)."""
    return value.full() if isinstance(value, LazyValue) else value


def _holds(variable: Any, saved: Any) -> bool:
    """Whether `variable` equals `saved`, compared `CHUNK_BYTES` of rows at a time."""
    import numpy as np

    shape = tuple(saved.shape) if hasattr(saved, "shape") else ()
    if len(shape) == 0 or not hasattr(variable, "__getitem__") or tuple(variable.shape) != shape:
        value = variable.numpy() if hasattr(variable, "numpy") else variable
        return bool(np.array_equal(np.asarray(value), np.asarray(full_value(saved))))
    itemsize = saved.itemsize if isinstance(saved, LazyValue) else saved.dtype.itemsize
    row_bytes = itemsize * int(np.prod(shape[1:], dtype=np.int64))
    step = max(1, CHUNK_BYTES // max(1, row_bytes))
    for start in range(0, shape[0], step):
        stop = min(start + step, shape[0])
        part = saved.rows(start, stop) if isinstance(saved, LazyValue) else saved[start:stop]
        if not np.array_equal(np.asarray(variable[start:stop]), np.asarray(part)):
            return False
    return True
