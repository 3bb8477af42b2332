"""Legacy Keras HDF5: `model.save("x.h5")` and `save_weights("x.h5")` of tf.keras 2.x.

Layout (h5py only, no TensorFlow for inspect): the weights sit under
`model_weights/` (whole-model files) or the file root (weights files); the
`layer_names` attribute lists the layers, each layer group's `weight_names` its
weights (`hidden/kernel:0`) in the legacy order (trainable, then non-trainable).
Long lists are chunked into `layer_names0`, `layer_names1`, ... as Keras does.
Matching is what Keras 3's `load_weights` does with such a file: topological (the k-th
saved layer holding weights into the k-th branch layer holding weights, weight by weight).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restore_gate._compat.keras import own_variables
from restore_gate.core.checkpoint import MODEL, OPTIMIZER, CheckpointInfo, CkptVariable
from restore_gate.core.pairing import Pairing
from restore_gate.core.variables import BuiltModel
from restore_gate.errors import GateError
from restore_gate.formats import generation
from restore_gate.formats.keras.config import layer_classes
from restore_gate.formats.keras.hdf5_guard import dataset_at, refuse_outside_storage
from restore_gate.formats.keras.v3 import lazy_dataset
from restore_gate.formats.tensorflow.tf1_checkpoint import pair_by_name, variable_name
from restore_gate.formats.values import restore_values

if TYPE_CHECKING:  # h5py is imported where a Keras file is read: TF checkpoints skip it
    import h5py

FORMAT = "keras-h5"
TOP_LEVEL = "top_level_model_weights"


def is_legacy_h5(path: Path) -> bool:
    """An HDF5 file with the legacy layout (`layer_names` or `model_weights`)."""
    if not (path.is_file() and path.suffix in (".h5", ".hdf5")):
        return False
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            refuse_outside_storage(handle, str(path))
            return "model_weights" in handle or _has_attribute(handle, "layer_names")
    except OSError:
        return not path.name.endswith(".weights.h5")  # unreadable: let read() say why


def read(path: Path) -> CheckpointInfo:
    """Every saved weight with its layer, raw key, shape and dtype; writer versions."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            refuse_outside_storage(handle, str(path))
            weights = handle.get("model_weights", handle)
            written_by = {k: _text(weights.attrs.get(k, handle.attrs.get(k)))
                          for k in ("keras_version", "backend")
                          if k in weights.attrs or k in handle.attrs}
            variables = _layer_variables(weights, str(path))
            variables += _optimizer_variables(handle, str(path))
            config = _json_attribute(handle, "model_config")
            optimizer_type = _optimizer_type(handle, variables)
    except GateError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise GateError(
            "inspect", f"cannot read {path}: {type(exc).__name__}: {exc}",
            "the file is truncated, corrupted or not a Keras HDF5 file: re-download or "
            "re-create the release asset",
        ) from exc
    written_by = {("keras" if k == "keras_version" else k): v for k, v in written_by.items()}

    generation.from_keras_version(written_by)
    info = CheckpointInfo(FORMAT, path, variables, written_by=written_by,
                          optimizer_type=optimizer_type, files=[path])
    if config is not None:
        info.extra["layer_classes"] = layer_classes(config)
    return info


def _layer_variables(weights: h5py.Group, label: str) -> list[CkptVariable]:
    found = []
    for layer in [*attribute_list(weights, "layer_names"), TOP_LEVEL]:
        if layer not in weights:
            if layer == TOP_LEVEL:
                continue
            raise GateError("inspect", f"{weights.file.filename}: layer group '{layer}' listed "
                            f"in layer_names (at {weights.name}) is absent",
                            "the file is truncated or was edited: re-create it",
                            code="h5-layer-missing")
        group = weights[layer]
        for weight in attribute_list(group, "weight_names"):
            dataset = dataset_at(group, weight, label)
            found.append(CkptVariable(
                name=_weight_name(layer, weight), layer=layer,
                key=f"{group.name.lstrip('/')}/{weight}",
                shape=list(dataset.shape), dtype=dataset.dtype.name, group=MODEL,
            ))
    return found


def _optimizer_variables(handle: h5py.File, label: str) -> list[CkptVariable]:
    if "optimizer_weights" not in handle:
        return []
    group = handle["optimizer_weights"]
    found = []
    for weight in attribute_list(group, "weight_names"):
        dataset = dataset_at(group, weight, label)
        name = _strip(weight)
        found.append(CkptVariable(name, name.rsplit("/", 1)[0] if "/" in name else name,
                                  f"optimizer_weights/{weight}", list(dataset.shape),
                                  dataset.dtype.name, OPTIMIZER))
    return found


def _optimizer_type(handle: h5py.File, variables: list[CkptVariable]) -> str | None:
    training = _json_attribute(handle, "training_config") or {}
    optimizer = training.get("optimizer_config", {}) if isinstance(training, dict) else {}
    name = optimizer.get("class_name") if isinstance(optimizer, dict) else None
    if name:
        return str(name).split(">")[-1]
    slots = [v.name.split("/")[0] for v in variables if v.group == OPTIMIZER and "/" in v.name]
    return slots[0] if slots else None


def _weight_name(layer: str, weight: str) -> str:
    name = _strip(weight)
    return name if name.split("/")[0] == layer else f"{layer}/{name}"


def _strip(weight: str) -> str:
    return re.sub(r":\d+$", "", weight)


def _has_attribute(group: h5py.Group, name: str) -> bool:
    return name in group.attrs or f"{name}0" in group.attrs


def attribute_list(group: h5py.Group, name: str) -> list[str]:
    """A list attribute, joined from Keras's chunks (`name0`, `name1`, ...) if split."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values.extend(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [_text(v) for v in values]


def _json_attribute(handle: h5py.File, name: str) -> Any:
    if name not in handle.attrs:
        return None
    try:
        return json.loads(_text(handle.attrs[name]))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def pair(info: CheckpointInfo, built: BuiltModel, roots: dict[str, str]) -> tuple[Pairing, Pairing]:
    """Keras 3's `load_weights` of a legacy `.h5`: topological, as
    `load_weights_from_hdf5_group` loads it: the k-th saved layer holding weights into the
    k-th branch layer holding weights, weight by weight, whatever their names. When the
    layer counts differ Keras loads nothing; the values are then paired by layer name (its
    `by_name=True` loading) only to name what differs."""
    owner = {id(v.obj): v for v in built.variables}
    saved: dict[str, list[CkptVariable]] = {}
    for variable in info.group(MODEL):
        saved.setdefault(variable.layer, []).append(variable)
    top = saved.pop(TOP_LEVEL, [])
    layers = _branch_layers(built.model)
    own = layers.pop()[1]  # the model's own weights: `top_level_model_weights`
    weighted = [(name, weights) for name, weights in layers if weights]
    model = Pairing()
    if len(weighted) == len(saved):
        pairs = list(zip(saved.values(), weighted, strict=True))
    else:
        model.notices.append(
            f"Keras's load_weights refuses this file: it holds {len(saved)} layers with "
            f"weights, the branch model {len(weighted)} (a legacy .h5 loads by layer order); "
            "the values are paired by layer name below only to name the difference.")
        by_name = dict(weighted)
        pairs = [(stored, (name, by_name.pop(name, []))) for name, stored in saved.items()]
        pairs += [([], rest) for rest in by_name.items()]
    for stored, (_, weights) in [*pairs, (top, (TOP_LEVEL, own))]:
        branch = [owner[id(w)] for w in weights if id(w) in owner]
        model.matched += list(zip(stored, branch, strict=False))
        model.missing += branch[len(stored):]
        model.unexpected += stored[len(branch):]
    paired = {id(m.obj) for _, m in model.matched} | {id(m.obj) for m in model.missing}
    model.missing += [v for v in built.variables if id(v.obj) not in paired]
    optimizer = _pair_optimizer(info, built)
    return model, optimizer


def _branch_layers(model: Any) -> list[tuple[str, list]]:
    """(layer name, weights in the legacy order) for the model's top-level layers."""
    layers = [(layer.name, _legacy_weights(layer)) for layer in getattr(model, "layers", [])]
    return [*layers, (TOP_LEVEL, own_variables(model))]


def _legacy_weights(layer: Any) -> list:
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def _pair_optimizer(info: CheckpointInfo, built: BuiltModel) -> Pairing:
    """Optimizer values by name: only files written by Keras 3 share the branch's names."""
    return pair_by_name(info.group(OPTIMIZER), built.optimizer_variables, variable_name)


def restore(info: CheckpointInfo, built: BuiltModel, roots: dict[str, str], model: Pairing,
            optimizer: Pairing | None) -> int:
    """Assign each compatible value from the file, then verify every one."""
    import h5py

    with h5py.File(info.path, "r") as handle:
        refuse_outside_storage(handle, str(info.path))
        return restore_values(model, optimizer, lambda key: lazy_dataset(handle[key]))
