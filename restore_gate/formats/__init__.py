"""Format detection and dispatch: one adapter module per checkpoint format.

Each adapter reads a `CheckpointInfo` from metadata (`read`), pairs its values
with a built model's variables (`pair`) and restores them (`restore`).
"""

from __future__ import annotations

from pathlib import Path

from restore_gate.build import BuiltModel
from restore_gate.checkpoint import CheckpointInfo
from restore_gate.compare import Pairing
from restore_gate.errors import GateError
from restore_gate.formats import keras_v3, tf_checkpoint

FORMATS = ("tf-checkpoint", "keras-weights", "keras", "saved-model", "tf1-checkpoint", "keras-h5")
CHECKABLE = ("tf-checkpoint", "keras-weights", "keras")


def detect(path: Path) -> tuple[str, Path]:
    """The format of a checkpoint path, and the path its reader takes."""
    if keras_v3.is_keras_zip(path):
        return keras_v3.KERAS_FORMAT, path
    if keras_v3.is_weights_h5(path):
        return keras_v3.WEIGHTS_FORMAT, path
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return "saved-model", path
    if path.is_file() and path.suffix in (".h5", ".hdf5"):
        return "keras-h5", path
    prefix = tf_checkpoint.find_prefix(path)
    if prefix is not None:
        return tf_checkpoint.FORMAT, prefix
    if not path.exists() and not Path(f"{path}.index").exists():
        raise GateError(
            "inspect", f"checkpoint {path} not found",
            "pass an existing checkpoint prefix, folder, .weights.h5, .keras or bundle .tar.gz",
        )
    raise GateError(
        "inspect",
        f"cannot tell the format of {path}",
        "pass a tf.train.Checkpoint prefix or folder, a .weights.h5, a .keras file or a "
        "`restore-gate snapshot` bundle, or set `checkpoint.format` in the config",
    )


def read(path: Path, declared: str = "auto") -> CheckpointInfo:
    """Inspect a checkpoint from its metadata."""
    fmt, target = detect(path)
    if declared not in ("auto", fmt) and not (declared == "tf1-checkpoint" and fmt == "tf-checkpoint"):
        raise GateError(
            "inspect",
            f"{path} looks like a {fmt} file, but the config says checkpoint.format: {declared}",
            f"set checkpoint.format to {fmt} or auto, or point --checkpoint at a {declared}",
        )
    if fmt in (keras_v3.KERAS_FORMAT, keras_v3.WEIGHTS_FORMAT):
        return keras_v3.read(target)
    if fmt == tf_checkpoint.FORMAT:
        return tf_checkpoint.read(target)
    raise GateError(
        "inspect",
        f"{path} is a {fmt}, which this version of restore-gate cannot read yet",
        "save the release with tf.train.Checkpoint, model.save_weights('x.weights.h5') or "
        "model.save('x.keras')",
    )


def pair(info: CheckpointInfo, built: BuiltModel, roots: dict[str, str]) -> tuple[Pairing, Pairing]:
    """Which checkpoint value each model and optimizer variable would receive."""
    _require_checkable(info)
    if info.format == tf_checkpoint.FORMAT:
        return tf_checkpoint.pair(info, built, roots)
    return keras_v3.pair(info, built)


def restore(
    info: CheckpointInfo,
    built: BuiltModel,
    roots: dict[str, str],
    model: Pairing,
    optimizer: Pairing | None,
) -> int:
    """Restore into the built model; return the number of verified model variables."""
    _require_checkable(info)
    if info.format == tf_checkpoint.FORMAT:
        return tf_checkpoint.restore(info, built, roots, model, optimizer)
    return keras_v3.restore(info, built, model, optimizer)


def _require_checkable(info: CheckpointInfo) -> None:
    if info.format not in CHECKABLE:
        raise GateError(
            "restore",
            f"restoring a {info.format} into the branch model is not supported yet",
            "release a tf.train.Checkpoint, .weights.h5 or .keras file alongside it",
        )
