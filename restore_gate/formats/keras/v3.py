"""Keras 3 files: `.weights.h5` and `.keras` (a zip holding `model.weights.h5`).

Metadata come from h5py (group paths, dataset shapes and dtypes, the layer-name
attribute Keras writes) and from the `.keras` zip's `metadata.json`; no TensorFlow.
Pairing uses Keras's own saving walk on the branch model, recorded instead of
written, so the paths are exactly the ones `load_weights` will look up.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restore_gate._compat.keras import by_reference, saving_layout
from restore_gate.core.checkpoint import MODEL, OPTIMIZER, OTHER, CheckpointInfo, CkptVariable
from restore_gate.core.pairing import Pairing
from restore_gate.core.variables import BuiltModel, ModelVariable
from restore_gate.errors import GateError
from restore_gate.formats import generation
from restore_gate.formats.keras.hdf5_guard import dataset_at, refuse_outside_storage
from restore_gate.formats.keras.walk import load_layout
from restore_gate.formats.keras.zip import WEIGHTS_ENTRY, check_keras_zip
from restore_gate.formats.keras.zip_member import seekable_member
from restore_gate.formats.values import LazyValue, restore_values

if TYPE_CHECKING:  # h5py is imported where a Keras file is read: TF checkpoints skip it
    import h5py

WEIGHTS_FORMAT = "keras-weights"
KERAS_FORMAT = "keras"






def is_weights_h5(path: Path) -> bool:
    return path.is_file() and path.name.endswith(".weights.h5")


@contextmanager
def open_weights(info_or_path: CheckpointInfo | Path) -> Iterator[h5py.File]:
    """The HDF5 weights file, inside a `.keras` zip or on its own."""
    import h5py

    path = info_or_path.path if isinstance(info_or_path, CheckpointInfo) else info_or_path
    try:
        if path.suffix == ".keras":
            check_keras_zip(path)
            with (seekable_member(path, WEIGHTS_ENTRY) as member,
                  h5py.File(member, "r") as handle):
                refuse_outside_storage(handle, f"{WEIGHTS_ENTRY} inside {path}")
                yield handle
        else:
            with h5py.File(path, "r") as handle:
                refuse_outside_storage(handle, str(path))
                yield handle
    except GateError:
        raise
    except (OSError, KeyError, zipfile.BadZipFile, ValueError) as exc:
        raise GateError(
            "inspect",
            f"cannot read {path}: {type(exc).__name__}: {exc}",
            "the file is truncated, corrupted or not a Keras 3 weights file: re-download or "
            "re-create the release asset",
        ) from exc


def read(path: Path) -> CheckpointInfo:
    """Every saved variable with its Keras path, shape and dtype."""
    fmt = KERAS_FORMAT if path.suffix == ".keras" else WEIGHTS_FORMAT
    written_by = _keras_metadata(path) if fmt == KERAS_FORMAT else {}
    variables: list[CkptVariable] = []
    optimizer_type = None
    with open_weights(path) as handle:
        written_by.update(
            {k: _text(v) for k, v in handle.attrs.items() if k in ("keras_version", "backend")}
        )
        if fmt == KERAS_FORMAT:
            generation.from_keras_version(written_by)
        generation.from_weights_h5(written_by, handle)
        for group_path, group in _vars_groups(handle):
            label = _text(group.attrs.get("name", "")) or group_path.rsplit("/", 1)[-1]
            kind = _group_of(group_path)
            if kind == OPTIMIZER and "name" in group.attrs:  # Keras 2 files record no name
                optimizer_type = label
            for index in sorted(group, key=_index_key):
                dataset = dataset_at(group, index, _label(path))
                variables.append(
                    CkptVariable(
                        name=f"{label}/{index}",
                        layer=label,
                        key=f"{group.name.lstrip('/')}/{index}",
                        shape=list(dataset.shape),
                        dtype=dataset.dtype.name,
                        group=kind,
                    )
                )
    return CheckpointInfo(
        fmt, path, variables, written_by=written_by, optimizer_type=optimizer_type, files=[path]
    )


def _label(path: Path) -> str:
    return f"{WEIGHTS_ENTRY} inside {path}" if path.suffix == ".keras" else str(path)


def _group_of(key: str) -> str:
    """Optimizer state, compile-metric state (Keras 2 saved it; no model weight), or model."""
    top = key.split("/")[0]
    return OPTIMIZER if top == "optimizer" else OTHER if top == "metrics" else MODEL


def _vars_groups(handle: h5py.File) -> list[tuple[str, h5py.Group]]:
    import h5py

    found: list[tuple[str, h5py.Group]] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Group) and name.rsplit("/", 1)[-1] == "vars":
            found.append((name.rsplit("/", 1)[0] if "/" in name else "", obj))

    handle.visititems(visit)
    return found


def _index_key(name: str) -> tuple[int, str]:
    return (int(name), name) if name.isdigit() else (1 << 30, name)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _keras_metadata(path: Path) -> dict[str, str]:
    check_keras_zip(path)
    try:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read("metadata.json"))
    except (KeyError, json.JSONDecodeError, zipfile.BadZipFile, OSError, RecursionError) as exc:
        raise GateError(
            "inspect", f"cannot read metadata.json in {path}: {type(exc).__name__}: {exc}",
            "the .keras file is truncated or corrupted: re-create it with model.save()",
        ) from None
    if not isinstance(meta, dict):
        raise GateError("inspect", f"metadata.json in {path} is not a JSON object",
                        "the .keras file is corrupted: re-create it with model.save()")
    return {"keras": str(meta.get("keras_version", "unknown"))}




def pair(info: CheckpointInfo, built: BuiltModel, roots: dict[str, str]) -> tuple[Pairing, Pairing]:
    """Pair file datasets and branch variables by the path Keras loads them from."""
    return pair_with_notices(info, built, [])


def pair_with_notices(info: CheckpointInfo, built: BuiltModel,
                      notices: list[str]) -> tuple[Pairing, Pairing]:
    """`pair`, the model pairing opening with `notices` (the .keras adapter's, keras/archive.py)."""
    layout = {k: o for k, o in loading_layout(built.model, info).items()
              if _group_of(k) != OTHER}
    known = {id(v.obj): v for v in [*built.variables, *built.optimizer_variables]}
    pairings = {MODEL: Pairing(notices=list(notices)), OPTIMIZER: Pairing()}
    saved = {v.key: v for v in info.variables if v.group != OTHER}
    for key, obj in layout.items():
        group = _group_of(key)
        model_var = known.get(id(obj)) or _unknown(key, obj, group)
        if key in saved:
            pairings[group].matched.append((saved[key], model_var))
        else:
            pairings[group].missing.append(model_var)
            pairings[group].paths[id(obj)] = key
    for key, ckpt in saved.items():
        if key not in layout:
            pairings[ckpt.group].unexpected.append(ckpt)
    _optimizer_all_or_nothing(pairings[OPTIMIZER], info, built)
    metrics = len(info.group(OTHER))
    if metrics:
        pairings[MODEL].notices.append(
            f"{metrics} compile-metric values in the file (under metrics/) are not model "
            "weights: Keras's load_weights does not read them, and neither does the gate.")
    return pairings[MODEL], pairings[OPTIMIZER]


def _optimizer_all_or_nothing(pairing: Pairing, info: CheckpointInfo, built: BuiltModel) -> None:
    """Keras's optimizer loads its `vars` only when the counts agree, else skips them all."""
    saved = len(info.group(OPTIMIZER))
    here = len(pairing.matched) + len(pairing.missing)
    if not saved or not here or saved == here:
        return
    pairing.unexpected += [c for c, _ in pairing.matched]
    pairing.missing += [m for _, m in pairing.matched]
    pairing.matched = []
    why = ""
    if info.written_by.get(generation.GENERATION) == "2":
        why = (" (a Keras 2 optimizer stores its iterations and slots; a Keras 3 one also "
               "its learning rate)")
    pairing.cause = (
        f"the file holds {saved} optimizer values, the branch's optimizer has {here}{why}: "
        "Keras's load_weights skips the optimizer state, so resumed training restarts it")
    pairing.notices.append(
        f"The release's optimizer state does not load into the branch's {built.optimizer_type}: "
        f"the file holds {saved} optimizer values, the branch's optimizer has {here}{why}, and "
        "Keras's load_weights then skips the optimizer state (its moments restart). The model "
        "weights are unaffected.")


def loading_layout(model: Any, info: CheckpointInfo) -> dict[str, Any]:
    """The saving walk's layout, with each variable moved to the path Keras's loading walk
    reads it from (legacy files keep layers where older Keras wrote them): keras/walk.py."""

    with by_reference():  # no copy of the optimizer's state (_compat/keras.py)
        saved_layout = saving_layout(model)
        loaded = load_layout(model, {v.key: v.shape for v in info.variables})
    if not loaded:
        return saved_layout
    placed = {id(obj) for obj in loaded.values()}
    return {**loaded, **{k: o for k, o in saved_layout.items() if id(o) not in placed}}


def _unknown(key: str, obj: Any, group: str) -> ModelVariable:
    import numpy as np

    value = np.asarray(obj)
    return ModelVariable(key, key.rsplit("/vars/", 1)[0], list(value.shape), value.dtype.name,
                         obj, group)


def restore(
    info: CheckpointInfo, built: BuiltModel, roots: dict[str, str], model: Pairing,
    optimizer: Pairing | None,
) -> int:
    """Keras's own `load_weights` when the metadata match; else assign what fits."""
    with open_weights(info) as handle:
        loaded = keras_loads(handle, info.path)
        return restore_values(
            model, optimizer, lambda key: lazy_dataset(handle[key]),
            lambda: built.model.load_weights(loaded),
            f"Keras's load_weights of {info.path}",
        )


def keras_loads(handle: h5py.File, path: Path) -> str:
    """The file Keras's load_weights reads: a deflated member's inflated copy (the same
    weights file; Keras would read it through zipfile's stream, which re-inflates on every
    backward seek: zip_member.py), else the release file itself."""
    name = handle.filename
    return name if name.endswith(".weights.h5") and Path(name).is_file() else str(path)


def lazy_dataset(dataset: h5py.Dataset) -> LazyValue:
    """A dataset read a slice of rows at a time (verification), or whole (assignment)."""
    return LazyValue(tuple(dataset.shape), dataset.dtype.itemsize,
                     lambda start, stop: dataset[start:stop], lambda: dataset[()])
