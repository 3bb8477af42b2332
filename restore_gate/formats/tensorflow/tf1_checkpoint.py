"""TF1 name-based checkpoints (`tf.compat.v1.train.Saver`, V2 and the older V1 format).

The values are keyed by variable name (`dense/kernel`, `dense/kernel/Adam`); inspect reads
both formats' tables without TensorFlow (formats/tensorflow/index.py), restore uses TF's own
`load_checkpoint`. A `.meta` file beside the prefix records the
writer's TensorFlow version. Matching is by name, as `Saver.restore` does: a branch
variable `dense/kernel:0` (a `tf.compat.v1` graph builder run through
`tf.compat.v1.wrap_function`, a `tf.Module`, a Keras layer named `dense`) takes
the value saved as `dense/kernel`.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from restore_gate.core.checkpoint import MODEL, OPTIMIZER, CheckpointInfo, CkptVariable, layer_of
from restore_gate.core.pairing import Pairing
from restore_gate.core.variables import BuiltModel, ModelVariable
from restore_gate.errors import GateError
from restore_gate.formats.tensorflow import (
    _protos as _tf_protos,
)
from restore_gate.formats.tensorflow import (
    files as tf_files,
)
from restore_gate.formats.tensorflow import (
    index as tf_index,
)
from restore_gate.formats.tensorflow.raw import lazy_reader
from restore_gate.formats.values import restore_values
from restore_gate.runtime import import_tensorflow

FORMAT = "tf1-checkpoint"
# Slot names the TF1 optimizers give their per-variable state, and their global values.
_SLOT = re.compile(r"/(Adam|Adam_1|Momentum|RMSProp|RMSProp_1|Adagrad|Adadelta|Adadelta_1|"
                   r"Ftrl|Ftrl_1|ExponentialMovingAverage)$")
_OPTIMIZER_NAMES = {"beta1_power": "Adam", "beta2_power": "Adam", "global_step": None}


def read(prefix: Path) -> CheckpointInfo:
    """Names, shapes and dtypes of a name-based checkpoint, V1 or V2."""
    files = tf_files.data_files(prefix)
    listing = tf_index.list_checkpoint(prefix)  # the table (V2 .index or V1 file), no TF
    shapes, dtypes = listing.shapes, listing.dtypes
    variables = [
        CkptVariable(key, layer_of(key), key, list(shapes[key]), dtypes[key], _group(key))
        for key in sorted(shapes)
    ]
    return complete(CheckpointInfo(FORMAT, prefix, variables, files=files))


def complete(info: CheckpointInfo) -> CheckpointInfo:
    """Add what a name-based checkpoint lacks: optimizer groups, the `.meta` writer."""
    info.format = FORMAT
    for variable in info.variables:
        variable.group = _group(variable.key)
    slots = Counter(m.group(1) for v in info.variables if (m := _SLOT.search(v.key)))
    powers = [v for v in info.variables if _OPTIMIZER_NAMES.get(v.key)]
    kinds = [k.split("_")[0] for k, _ in slots.most_common()] or [
        _OPTIMIZER_NAMES[v.key] for v in powers
    ]
    info.optimizer_type = kinds[0] if kinds else None
    meta = Path(f"{info.path}.meta")
    if meta.is_file():
        info.files = [*info.files, meta]
        info.written_by.update(meta_versions(meta))
    return info


def _group(key: str) -> str:
    return OPTIMIZER if _SLOT.search(key) or key in _OPTIMIZER_NAMES else MODEL


def meta_versions(meta: Path) -> dict[str, str]:
    """`tensorflow` (and `tensorflow_git`) from a MetaGraphDef's `meta_info_def`."""
    try:
        graph = _tf_protos.parse("MetaGraphDef", meta.read_bytes())
    except Exception as exc:  # google.protobuf.message.DecodeError
        raise GateError(
            "inspect", f"cannot parse {meta}: {type(exc).__name__}: {exc}",
            "the .meta file is truncated or corrupted: re-download it, or delete it (the "
            "checkpoint's values do not need it)",
        ) from exc
    return versions_of(graph.meta_info_def, graph.graph_def)


def versions_of(meta_info: Any, graph_def: Any = None) -> dict[str, str]:
    """The writer's versions; graphs older than `tensorflow_version` (TF < 1.0) record only
    their GraphDef producer version."""
    found = {}
    if graph_def is not None and not meta_info.tensorflow_version and graph_def.versions.producer:
        found["graph_producer"] = str(graph_def.versions.producer)
    if meta_info.tensorflow_version:
        found["tensorflow"] = meta_info.tensorflow_version
    git = meta_info.tensorflow_git_version
    if git and git != "unknown":
        found["tensorflow_git"] = git[2:-1] if git.startswith(("b'", 'b"')) else git
    return found


def variable_name(model_var: ModelVariable) -> str:
    """The name a Saver would save this variable under (`dense/kernel`, no `:0`)."""
    obj = model_var.obj
    path = getattr(obj, "path", None)  # Keras 3 variables: `dense/kernel`
    name = path or getattr(obj, "name", None) or model_var.name
    return re.sub(r":\d+$", "", str(name))


def pair(info: CheckpointInfo, built: BuiltModel, roots: dict[str, str]) -> tuple[Pairing, Pairing]:
    """Match by name; branch optimizer state never matches TF1 slot names."""
    model = pair_by_name(info.group(MODEL), built.variables, variable_name)
    optimizer = Pairing(missing=list(built.optimizer_variables),
                        unexpected=info.group(OPTIMIZER))
    return model, optimizer


def pair_by_name(saved: list[CkptVariable], variables: list[ModelVariable],
                 name_of: Any) -> Pairing:
    """Each branch variable takes the saved value of its name; the rest is named."""
    by_name = {v.name: v for v in saved}
    pairing, used = Pairing(), set()
    for model_var in variables:
        ckpt = by_name.get(name_of(model_var))
        if ckpt is None or ckpt.name in used:
            pairing.missing.append(model_var)
        else:
            used.add(ckpt.name)
            pairing.matched.append((ckpt, model_var))
    pairing.unexpected = [v for v in saved if v.name not in used]
    return pairing


def restore(info: CheckpointInfo, built: BuiltModel, roots: dict[str, str], model: Pairing,
            optimizer: Pairing | None) -> int:
    """Assign every compatible value with TF's reader; verify each one."""
    tf = import_tensorflow("restore")
    reader = tf.train.load_checkpoint(str(info.path))
    return restore_values(model, optimizer, lazy_reader(info.path, reader.get_tensor))
