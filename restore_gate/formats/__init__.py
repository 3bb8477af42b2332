"""Format detection and dispatch: one adapter module per checkpoint format.

Each adapter reads a `CheckpointInfo` from metadata (`read`), pairs its values
with a built model's variables (`pair`) and restores them (`restore`); `ADAPTERS`
registers one `Adapter` of that shape per format, and `detect` picks the format.

| format           | adapter            | matched by                                    |
|------------------|--------------------|-----------------------------------------------|
| tf-checkpoint    | tf_checkpoint      | TF2 object graph (+ untracked-weight causes)  |
| tf1-checkpoint   | tf1_checkpoint     | variable name (V1 and V2, optional `.meta`)   |
| saved-model      | saved_model        | object graph (TF2) or name; + signatures      |
| keras-weights    | keras_v3           | Keras 3 saving paths (`layers/dense/vars/0`)  |
| keras            | keras_v3           | same, + safe rebuild of the release's config  |
| keras-h5         | keras_h5           | layer order, then weight order (as Keras 3)   |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from restore_gate.core.checkpoint import CheckpointInfo
from restore_gate.core.pairing import Pairing
from restore_gate.core.variables import BuiltModel
from restore_gate.errors import GateError
from restore_gate.formats import generation
from restore_gate.formats.keras import h5 as keras_h5
from restore_gate.formats.keras import v3 as keras_v3
from restore_gate.formats.keras.config import (
    check_loadable,
    is_custom,
    layer_classes,
    objects,
    read_keras_config,
)
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
    untracked,
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


@dataclass(frozen=True)
class Adapter:
    """One checkpoint format: read metadata, pair with a built model, restore into it."""

    read: Callable[[Path], CheckpointInfo]
    pair: Callable[[CheckpointInfo, BuiltModel, dict[str, str]], tuple[Pairing, Pairing]]
    restore: Callable[[CheckpointInfo, BuiltModel, dict[str, str], Pairing, Pairing | None], int]


def _read_keras(path: Path) -> CheckpointInfo:
    info = keras_v3.read(path)
    info.details["config"] = read_keras_config(path)
    info.extra["layer_classes"] = layer_classes(info.details["config"])
    generation.from_keras_config(info.written_by, info.details["config"])
    return info


def _read_tf(prefix: Path) -> CheckpointInfo:
    info = tf_checkpoint.read(prefix)  # a name-based checkpoint is found here first
    return tf1_checkpoint.complete(info) if info.format == tf1_checkpoint.FORMAT else info


def _pair_tf(info: CheckpointInfo, built: BuiltModel, roots: dict[str, str]):
    model, optimizer = tf_checkpoint.pair(info, built, roots)
    untracked.explain(model, built, tf_checkpoint.python_root(info, built, roots))
    return model, optimizer


def _pair_keras(info: CheckpointInfo, built: BuiltModel, roots: dict[str, str]):
    notices = _check_release_config(info)
    model, optimizer = keras_v3.pair(info, built)
    model.notices[:0] = notices
    return model, optimizer


def _restore_keras(info, built, roots, model, optimizer) -> int:
    return keras_v3.restore(info, built, model, optimizer)


ADAPTERS: dict[str, Adapter] = {
    tf_checkpoint.FORMAT: Adapter(_read_tf, _pair_tf, tf_checkpoint.restore),
    keras_v3.WEIGHTS_FORMAT: Adapter(
        keras_v3.read, lambda info, built, roots: keras_v3.pair(info, built), _restore_keras),
    keras_v3.KERAS_FORMAT: Adapter(_read_keras, _pair_keras, _restore_keras),
    saved_model.FORMAT: Adapter(saved_model.read, saved_model.pair, saved_model.restore),
    tf1_checkpoint.FORMAT: Adapter(
        tf1_checkpoint.read, lambda info, built, roots: tf1_checkpoint.pair(info, built),
        lambda info, built, roots, model, opt: tf1_checkpoint.restore(info, model, opt)),
    keras_h5.FORMAT: Adapter(
        keras_h5.read, lambda info, built, roots: keras_h5.pair(info, built),
        lambda info, built, roots, model, opt: keras_h5.restore(info, model, opt)),
}


def _check_release_config(info: CheckpointInfo) -> list[str]:
    """Rebuild the release's config with the branch's classes (an extra check: the weights
    never need it); a Keras 2 config is one Keras 3 cannot rebuild: a notice, not an error."""
    import keras

    config = info.details.get("config") or read_keras_config(info.path)
    written = info.written_by.get(generation.GENERATION)
    here = generation.major(keras.__version__)
    if written and here and written != here:
        return [
            f"The release's model config was not rebuilt: Keras {written} wrote it "
            f"({info.written_by.get(generation.EVIDENCE, 'its metadata')}), and "
            f"keras.saving.load_model of Keras {keras.__version__} cannot rebuild it. Its "
            "weights are paired as the branch model's load_weights reads them. For a release "
            "Keras 3 can load_model, re-save it with Keras 3: build the branch model, "
            "load_weights the release, model.save('model.keras')."
        ]

    custom = any(is_custom(e) for e in objects(config))  # before Keras consumes the config
    try:
        check_loadable(info.path, config)
    except GateError as error:
        if "does not rebuild" not in error.message or custom:
            raise  # a Lambda, or the branch's own classes: the error is the finding
        return [  # only Keras's own classes: load_model breaks, load_weights does not
            f"The release's model config does not rebuild with Keras {keras.__version__} "
            f"({error.message.split(': ', 1)[-1][:300]}); it holds no custom class, so this is "
            "no change in the branch: its weights are paired as the branch model's "
            "load_weights reads them. keras.saving.load_model of this release fails."
        ]
    return []


def _adapter(info: CheckpointInfo) -> Adapter:
    if info.format in ADAPTERS:
        return ADAPTERS[info.format]
    raise GateError(
        "restore",
        f"restoring a {info.format} into the branch model is not supported",
        "release a tf.train.Checkpoint, SavedModel, .weights.h5 or .keras file",
        code="restore-unsupported",
    )
