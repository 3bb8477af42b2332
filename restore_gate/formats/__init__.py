"""Format detection and dispatch: one adapter module per checkpoint format.

Each adapter reads a `CheckpointInfo` from metadata (`read`), pairs its values
with a built model's variables (`pair`) and restores them (`restore`); `ADAPTERS`
registers one `Adapter` (a format module with those three functions, the same arguments
for every format) per format, and `detect` picks the format.

| format           | adapter            | matched by                                    |
|------------------|--------------------|-----------------------------------------------|
| tf-checkpoint    | tf_checkpoint      | TF2 object graph (+ untracked-weight causes)  |
| tf1-checkpoint   | tf1_checkpoint     | variable name (V1 and V2, optional `.meta`)   |
| saved-model      | saved_model        | object graph (TF2) or name; + signatures      |
| keras-weights    | keras_v3           | Keras 3 saving paths (`layers/dense/vars/0`)  |
| keras            | keras/archive      | as keras_v3, + safe rebuild of its config     |
| keras-h5         | keras_h5           | layer order, then weight order (as Keras 3)   |
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from restore_gate.core.checkpoint import CheckpointInfo
from restore_gate.core.pairing import Pairing
from restore_gate.core.variables import BuiltModel
from restore_gate.errors import GateError
from restore_gate.formats.keras import archive as keras_archive
from restore_gate.formats.keras import h5 as keras_h5
from restore_gate.formats.keras import v3 as keras_v3
from restore_gate.formats.keras.zip import is_keras_zip
from restore_gate.formats.tensorflow import (
    checkpoint as tf_checkpoint,
)
from restore_gate.formats.tensorflow import (
    files as tf_files,
)
from restore_gate.formats.tensorflow import (
    saved_model,
    tf1_checkpoint,
)

FORMATS = ("tf-checkpoint", "keras-weights", "keras", "saved-model", "tf1-checkpoint", "keras-h5")
CHECKABLE = FORMATS
# A name-based checkpoint is found as a `tf-checkpoint` prefix until its index is read.
_COMPATIBLE = {("tf1-checkpoint", "tf-checkpoint")}


def detect(path: Path) -> tuple[str, Path]:
    """The format of a checkpoint path, and the path its reader takes."""
    if is_keras_zip(path):
        return keras_v3.KERAS_FORMAT, path
    if keras_h5.is_legacy_h5(path):
        return keras_h5.FORMAT, path
    if keras_v3.is_weights_h5(path):
        return keras_v3.WEIGHTS_FORMAT, path
    if saved_model.is_saved_model(path):
        return saved_model.FORMAT, path
    if path.is_file() and path.suffix in (".h5", ".hdf5"):
        return keras_h5.FORMAT, path
    prefix = tf_checkpoint.find_prefix(path)
    if prefix is not None:
        fmt = tf1_checkpoint.FORMAT if tf_files.is_v1_file(prefix) else tf_checkpoint.FORMAT
        return fmt, prefix
    if not path.exists() and not Path(f"{path}.index").exists():
        raise GateError(
            "inspect", f"checkpoint {path} not found",
            "pass an existing checkpoint prefix, folder, SavedModel folder, .weights.h5, .h5, "
            ".keras or bundle .tar.gz",
            code="checkpoint-not-found",
        )
    raise GateError(
        "inspect",
        f"cannot tell the format of {path}",
        "pass a checkpoint prefix or folder (tf.train.Checkpoint or tf.compat.v1 Saver), a "
        "SavedModel folder, a .weights.h5, .h5 or .keras file or a `restore-gate snapshot` "
        "bundle, or set `checkpoint.format` in the config",
        code="unknown-format",
    )


def read(path: Path, declared: str = "auto") -> CheckpointInfo:
    """Inspect a checkpoint from its metadata."""
    fmt, target = detect(path)
    if declared not in ("auto", fmt) and (declared, fmt) not in _COMPATIBLE:
        raise GateError(
            "inspect",
            f"{path} looks like a {fmt} file, but the config says checkpoint.format: {declared}",
            f"set checkpoint.format to {fmt} or auto, or point --checkpoint at a {declared}",
            code="format-mismatch",
        )
    return ADAPTERS[fmt].read(target)


def pair(info: CheckpointInfo, built: BuiltModel, roots: dict[str, str]) -> tuple[Pairing, Pairing]:
    """Which checkpoint value each model and optimizer variable would receive."""
    return _adapter(info).pair(info, built, roots)


def restore(
    info: CheckpointInfo,
    built: BuiltModel,
    roots: dict[str, str],
    model: Pairing,
    optimizer: Pairing | None,
) -> int:
    """Restore into the built model; return the number of verified model variables."""
    return _adapter(info).restore(info, built, roots, model, optimizer)


class Adapter(Protocol):
    """One checkpoint format: read metadata, pair with a built model, restore into it.

    Every format module is one (the same three functions, the same arguments); `pair`
    returns complete pairings (notes, notices and extra mismatches included)."""

    def read(self, path: Path, /) -> CheckpointInfo: ...

    def pair(self, info: CheckpointInfo, built: BuiltModel, roots: dict[str, str], /
             ) -> tuple[Pairing, Pairing]: ...

    def restore(self, info: CheckpointInfo, built: BuiltModel, roots: dict[str, str],
                model: Pairing, optimizer: Pairing | None, /) -> int: ...


ADAPTERS: dict[str, Adapter] = {
    tf_checkpoint.FORMAT: tf_checkpoint,
    keras_v3.WEIGHTS_FORMAT: keras_v3,
    keras_archive.FORMAT: keras_archive,
    saved_model.FORMAT: saved_model,
    tf1_checkpoint.FORMAT: tf1_checkpoint,
    keras_h5.FORMAT: keras_h5,
}


def _adapter(info: CheckpointInfo) -> Adapter:
    if info.format in ADAPTERS:
        return ADAPTERS[info.format]
    raise GateError(
        "restore",
        f"restoring a {info.format} into the branch model is not supported",
        "release a tf.train.Checkpoint, SavedModel, .weights.h5 or .keras file",
        code="restore-unsupported",
    )
