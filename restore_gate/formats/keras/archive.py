"""The `keras` format: a `.keras` archive. Its weights read, pair and restore as a
`.weights.h5` (keras/v3.py); its model config is read too, and rebuilt with the branch's
classes as an extra check (a notice or an error, never needed for the weights)."""

from __future__ import annotations

from pathlib import Path

from restore_gate.core.checkpoint import CheckpointInfo
from restore_gate.core.pairing import Pairing
from restore_gate.core.variables import BuiltModel
from restore_gate.errors import GateError
from restore_gate.formats import generation
from restore_gate.formats.keras import v3
from restore_gate.formats.keras.config import (
    check_loadable,
    is_custom,
    layer_classes,
    objects,
    read_keras_config,
)

FORMAT = v3.KERAS_FORMAT


def read(path: Path) -> CheckpointInfo:
    info = v3.read(path)
    info.details["config"] = read_keras_config(path)
    info.extra["layer_classes"] = layer_classes(info.details["config"])
    generation.from_keras_config(info.written_by, info.details["config"])
    return info


def pair(info: CheckpointInfo, built: BuiltModel, roots: dict[str, str]) -> tuple[Pairing, Pairing]:
    return v3.pair_with_notices(info, built, _check_release_config(info))


def restore(info: CheckpointInfo, built: BuiltModel, roots: dict[str, str], model: Pairing,
            optimizer: Pairing | None) -> int:
    return v3.restore(info, built, roots, model, optimizer)


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
