"""Which Keras generation wrote a checkpoint: the Keras 2 → 3 upgrade of TF 2.16 as a cause.

TF ≤ 2.15 ships Keras 2 (tf.keras); TF 2.16+ ships Keras 3. Each adapter records the
writer's generation in `written_by["keras_generation"]` only from evidence in the file
(metadata only, no TensorFlow), and says which in `keras_generation_evidence`:

- `.keras`, `.h5`: `keras_version` 2.x in the metadata; `keras.src.engine` or `keras.engine`
  modules in the model config.
- `.weights.h5`: `_layer_checkpoint_dependencies` groups; compile-metric state under
  `metrics/`; an optimizer whose `vars/1` is a slot (Keras 3 stores the learning rate there).
- tf.train.Checkpoint: `layer_with_weights-N` / `layer-N` object paths (tf.keras's tracking of
  functional and Sequential models); an optimizer whose `_variables/1` is a slot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from restore_gate.core.keys import is_keras2_positional_key
from restore_gate.formats.keras.config import objects

GENERATION = "keras_generation"
EVIDENCE = "keras_generation_evidence"

MIGRATE_WEIGHTS = (
    "in the environment that wrote it (TF ≤ 2.15, tf.keras), restore the checkpoint into the "
    "model and re-save it with `model.save_weights('model.weights.h5')` (Keras 3's "
    "load_weights reads Keras 2 `.weights.h5` files), or, with the release's code checked "
    "out, run `restore-gate migrate CHECKPOINT --out model.weights.h5`, which writes and "
    "verifies a Keras 3 file; release that file"
)


MIGRATE_SHORT = (
    "migrate: re-save with `model.save_weights('model.weights.h5')` under TF ≤ 2.15, or run "
    "`restore-gate migrate CHECKPOINT --out model.weights.h5` with the release's code"
)


def major(version: str | None) -> str | None:
    match = re.match(r"\s*(\d+)\.", str(version or ""))
    return match.group(1) if match else None


def record(written_by: dict[str, str], generation: str | None, evidence: str) -> None:
    """Set the generation (if not already established) and what established it."""
    if generation and GENERATION not in written_by:
        written_by[GENERATION] = generation
        written_by[EVIDENCE] = evidence[:120]


def from_keras_version(written_by: dict[str, str]) -> None:
    version = written_by.get("keras")
    record(written_by, major(version), f"keras_version {version} in the file's metadata")


def from_keras_config(written_by: dict[str, str], config: Any) -> None:
    for entry in objects(config):
        module = str(entry.get("module") or "")
        if module.startswith(("keras.src.engine", "keras.engine")):
            record(written_by, "2", f"Keras 2 module {module} in the model config")
            return


def from_weights_h5(written_by: dict[str, str], handle: Any) -> None:
    """Keras 2 markers in a `.weights.h5` (h5py handle)."""
    import h5py

    found: list[str] = []

    def visit(name: str, obj: Any) -> Any:
        if name.rsplit("/", 1)[-1] == "_layer_checkpoint_dependencies":
            found.append("`_layer_checkpoint_dependencies` groups")
            return True
        return None

    handle.visititems(visit)
    if not found and isinstance(handle.get("metrics"), h5py.Group) and len(handle["metrics"]):
        found.append("compile-metric state under `metrics/`")
    slot = handle.get("optimizer/vars/1")
    if not found and isinstance(slot, h5py.Dataset) and slot.shape != ():
        found.append("an optimizer whose vars/1 is a slot (Keras 3 stores the learning rate)")
    if found:
        record(written_by, "2", found[0])


def from_checkpoint_keys(written_by: dict[str, str],
                         keys: Iterable[tuple[str, list[int] | None]]) -> None:
    """Keras 2 markers among a TF checkpoint's (key, shape) pairs."""
    for key, shape in keys:
        path = key.split("/.ATTRIBUTES")[0]
        if is_keras2_positional_key(key):
            record(written_by, "2", f"tf.keras object path {path}")
        elif path.endswith("optimizer/_variables/1") and shape:
            record(written_by, "2", f"{path} is a slot (Keras 3 keeps its learning rate there)")






def skew_notice(written_by: dict, runner_keras: str | None) -> str | None:
    """The upgrade notice, when the release's Keras generation differs from this run's."""
    release, here = written_by.get(GENERATION), major(runner_keras)
    if not release or not here or release == here:
        return None
    version = written_by.get("keras")
    writer = f"Keras {version}" if version and major(version) == release else f"Keras {release}"
    evidence = written_by.get(EVIDENCE)
    return (
        f"Keras {release} → {here} upgrade: the release was written by {writer}"
        f"{f' ({evidence})' if evidence else ''}, this run uses Keras {runner_keras}. "
        f"Values are paired the way Keras {here} reads this file."
    )
