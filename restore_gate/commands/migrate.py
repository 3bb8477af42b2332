"""`restore-gate migrate`: a Keras 3 `.weights.h5` from a tf.keras (Keras 2) tf.train.Checkpoint.

Keras 3 cannot `tf.train.Checkpoint.restore` a checkpoint tf.keras wrote: tf.keras tracked
a functional or Sequential model's layers as `layer_with_weights-N` / `layer-N` and kept a
Dense kernel at `kernel`, Keras 3 tracks `_operations/N` and `_kernel`. This reads the
checkpoint's values with TensorFlow's reader and follows tf.keras's own object paths on the
branch model:

- `layer_with_weights-N`: the N-th of the container's `layers` that holds weights;
  `layer-N`: its N-th layer (both as tf.keras numbered them);
- any other name: the attribute (list items by index), as tf.keras tracked subclassed models;
- the last name: the layer's variable of that name (`kernel`, `moving_mean`).

Every model variable must receive exactly one value of its shape; then the model is saved
with `save_weights` and verified: a freshly built model loads the file with Keras's own
`load_weights` and must hold every value. Optimizer state is not migrated.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from restore_gate import formats
from restore_gate._compat.keras import own_variables
from restore_gate.branch.build import build_model
from restore_gate.core.checkpoint import MODEL
from restore_gate.errors import GateError
from restore_gate.formats.tensorflow import checkpoint as tf_checkpoint
from restore_gate.runtime import import_tensorflow
from restore_gate.settings.config import Config

_NUMBERED = re.compile(r"^(layer_with_weights|layer)-(\d+)$")


def migrate(checkpoint: Path, config: Config, out: Path) -> int:
    """Write `out` (a `.weights.h5`) from a tf.keras checkpoint; return the values written."""
    if not out.name.endswith(".weights.h5"):
        raise GateError("config", f"--out {out} must end in .weights.h5",
                        "name the migrated file e.g. model.weights.h5")
    info = formats.read(checkpoint)
    if info.format != tf_checkpoint.FORMAT:
        raise GateError("inspect", f"{checkpoint} is a {info.format}, not a tf.train.Checkpoint",
                        "migrate converts tf.keras tf.train.Checkpoint files; Keras 3 loads "
                        "Keras 2 .weights.h5 / .keras / .h5 files itself")
    tf = import_tensorflow("restore")
    reader = tf.train.load_checkpoint(str(info.path))
    built = build_model(config)
    roots = tf_checkpoint.detect_roots(info.details["graph"], config.checkpoint.root)
    prefix = roots.get("model", "model")
    values = {}
    for variable in info.group(MODEL):
        path = variable.key.split("/.ATTRIBUTES")[0]
        relative = path[len(prefix) + 1:] if path.startswith(f"{prefix}/") else path
        values[relative] = reader.get_tensor(variable.key)
    assigned = _assign(built.model, values)
    unassigned = [v.name for v in built.variables if id(v.obj) not in assigned]
    if unassigned:
        raise GateError(
            "restore", f"{len(unassigned)} variables of the branch model receive no value from "
            f"{checkpoint}: {', '.join(unassigned[:8])}",
            "migrate writes the release's own model: build it with the release's code (check "
            "out its tag) and the same builder arguments")
    out.parent.mkdir(parents=True, exist_ok=True)
    built.model.save_weights(str(out))
    _verify(config, out, [assigned[id(v.obj)] for v in built.variables])
    return len(assigned)


def _assign(model: Any, values: dict[str, Any]) -> dict[int, Any]:
    """Assign each value at its tf.keras path; return id(variable) -> the value it holds."""
    import numpy as np

    assigned: dict[int, Any] = {}
    unmatched = []
    for path, value in sorted(values.items()):
        variable = _follow(model, path.split("/"))
        if variable is None or list(variable.shape) != list(np.shape(value)) \
                or id(variable) in assigned:
            unmatched.append(path)
            continue
        variable.assign(value)
        assigned[id(variable)] = value
    if unmatched:
        raise GateError(
            "restore", f"{len(unmatched)} checkpoint values have no variable of their shape at "
            f"their tf.keras path in the branch model: {', '.join(unmatched[:8])}",
            "migrate writes the release's own model: build it with the release's code and "
            "builder arguments")
    return assigned


def _follow(obj: Any, parts: list[str]) -> Any:
    for index, part in enumerate(parts):
        if index == len(parts) - 1:
            return _variable(obj, part)
        obj = _child(obj, part)
        if obj is None:
            return None
    return None


def _child(obj: Any, part: str) -> Any:
    numbered = _NUMBERED.match(part)
    if numbered and hasattr(obj, "layers"):
        layers = list(obj.layers)
        if numbered.group(1) == "layer_with_weights":
            layers = [layer for layer in layers if layer.weights]
        position = int(numbered.group(2))
        return layers[position] if position < len(layers) else None
    if isinstance(obj, (list, tuple)) and part.isdigit():
        return obj[int(part)] if int(part) < len(obj) else None
    if isinstance(obj, dict):
        return obj.get(part)
    return getattr(obj, part, None)


def _variable(layer: Any, name: str) -> Any:
    for variable in own_variables(layer):
        if str(variable.name) == name:
            return variable
    candidate = getattr(layer, name, None)
    return candidate if hasattr(candidate, "assign") else None


def _verify(config: Config, out: Path, expected: list[Any]) -> None:
    """A fresh model loads `out` with Keras's own load_weights and holds every value."""
    import numpy as np

    fresh = build_model(config)
    fresh.model.load_weights(str(out))
    for variable, value in zip(fresh.variables, expected, strict=True):
        if not np.array_equal(np.asarray(variable.obj), value):
            raise GateError("restore", f"{out}: after load_weights, {variable.name} does not "
                            "hold the migrated value", "report this with the checkpoint's "
                            "`restore-gate inspect --json` output")
