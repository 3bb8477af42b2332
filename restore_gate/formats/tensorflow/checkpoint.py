"""TF2 object-based checkpoints (`tf.train.Checkpoint`, CheckpointManager directories).

Metadata comes from the `.index` table, read without TensorFlow (formats/tensorflow/index.py):
keys, shapes and dtypes; the `_CHECKPOINTABLE_OBJECT_GRAPH` entry gives the object graph
with each variable's human `full_name`. Pairing replays TensorFlow's restore: a breadth-first
walk from the root, matching children by name, first binding wins.
"""

from __future__ import annotations

from collections import Counter, deque
from pathlib import Path
from typing import Any

from restore_gate.core.checkpoint import (
    MODEL,
    OPTIMIZER,
    OTHER,
    CheckpointInfo,
    CkptVariable,
    layer_of,
)
from restore_gate.core.keys import is_keras2_positional_key, is_positional_key
from restore_gate.core.pairing import Pairing
from restore_gate.core.variables import BuiltModel
from restore_gate.errors import GateError, first_line
from restore_gate.formats import generation
from restore_gate.formats.tensorflow import (
    _protos as _tf_protos,
)
from restore_gate.formats.tensorflow import (
    files as tf_files,
)
from restore_gate.formats.tensorflow import (
    index as tf_index,
)
from restore_gate.formats.tensorflow import loop_roots, tf1_checkpoint, untracked
from restore_gate.formats.tensorflow.raw import lazy_reader
from restore_gate.formats.values import restore_values
from restore_gate.runtime import import_tensorflow

FORMAT = "tf-checkpoint"
TF1_FORMAT = "tf1-checkpoint"
GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def find_prefix(path: Path) -> Path | None:
    """The checkpoint prefix for a prefix, an `.index` file, a V1 file or a folder."""
    return tf_files.find_prefix(path)  # state files, V1 files, shards: formats/tensorflow/files.py


def checkpoint_files(prefix: Path) -> list[Path]:
    return tf_files.data_files(prefix)


def read(prefix: Path) -> CheckpointInfo:
    """Keys, shapes, dtypes and the object graph; no variable values are read. A
    name-based checkpoint (no object graph) is found here first: tf1_checkpoint reads it."""
    info = _read(prefix)
    return tf1_checkpoint.complete(info) if info.format == TF1_FORMAT else info


def _read(prefix: Path) -> CheckpointInfo:
    files = checkpoint_files(prefix)  # raises naming any missing data shard
    listing = tf_index.list_checkpoint(prefix)  # the .index table, read without TensorFlow
    shapes, dtypes = listing.shapes, listing.dtypes
    if listing.object_graph is None:
        variables = [
            CkptVariable(key, layer_of(key), key, list(shapes[key]), dtypes[key])
            for key in sorted(shapes)
        ]
        return CheckpointInfo(TF1_FORMAT, prefix, variables, files=files)
    graph = _parse_graph(prefix, listing.object_graph)
    by_node = _variables_by_node(graph, shapes, dtypes)
    _assign_groups(graph, by_node, detect_roots(graph))
    variables = sorted(by_node.values(), key=lambda v: (v.group != MODEL, v.key))
    written_by: dict[str, str] = {}
    generation.from_checkpoint_keys(written_by, [(v.key, v.shape) for v in variables])
    return CheckpointInfo(
        FORMAT,
        prefix,
        variables,
        written_by=written_by,
        optimizer_type=_optimizer_type(graph, by_node),
        files=files,
        details={"graph": graph, "by_node": by_node},
    )


def _parse_graph(prefix: Path, data: bytes) -> Any:
    from google.protobuf.message import DecodeError

    try:
        return _tf_protos.parse("TrackableObjectGraph", data)
    except DecodeError as exc:
        raise GateError(
            "inspect", f"cannot read checkpoint {prefix}: its object graph ({GRAPH_KEY}) is "
            f"not a valid TrackableObjectGraph ({exc})", tf_index.HINT) from exc


def _unreadable(prefix: Path, exc: Exception) -> GateError:
    return GateError(
        "inspect",
        f"cannot read checkpoint {prefix}: {first_line(exc)}",
        "the file is truncated, corrupted or not a TensorFlow checkpoint: re-download or "
        "re-create the release asset",
        code="checkpoint-unreadable",
    )


def _variables_by_node(graph: Any, shapes: dict, dtypes: dict) -> dict[int, CkptVariable]:
    found: dict[int, CkptVariable] = {}
    for node_id, node in enumerate(graph.nodes):
        for attribute in node.attributes:
            if attribute.name != "VARIABLE_VALUE" or attribute.checkpoint_key not in shapes:
                continue
            key = attribute.checkpoint_key
            name = attribute.full_name or key.split("/.ATTRIBUTES")[0]
            found[node_id] = CkptVariable(
                name=name, layer=layer_of(name), key=key,
                shape=list(shapes[key]), dtype=dtypes[key], group=OTHER,
                # matched by position: the value's identity is the layer name it was saved
                # from (full_name), which the file records
                identity=attribute.full_name or None if is_positional_key(key)
                else None,
            )
    # tf.Variables created without a name all record the full_name "Variable": name
    # those by their object path (`a`, `blocks/0/w`) so every value has its own name.
    counts = Counter(v.name for v in found.values())
    for variable in found.values():
        if counts[variable.name] > 1:
            variable.name = variable.key.split("/.ATTRIBUTES")[0]
            variable.layer = layer_of(variable.name)
    return found


def _assign_groups(
    graph: Any, by_node: dict[int, CkptVariable], roots: dict[str, str] | None = None
) -> None:
    """Model values are reachable from the model without passing the optimizer."""
    roots = roots or {}
    model_id, optimizer_id = root_children(
        graph, roots.get("model", "model"), roots.get("optimizer", "optimizer"))
    optimizer_ids = {optimizer_id} if optimizer_id is not None else set()
    if model_id is None and loop_roots.is_checkpoint_root(graph):
        # a custom loop's Checkpoint without the configured model child: only the values
        # the optimizer references reach the model (as in TF's restore); the rest is OTHER
        for node_id in loop_roots.model_through_optimizer(graph, optimizer_id):
            if node_id in by_node:
                by_node[node_id].group = MODEL
        _assign_optimizer(graph, by_node, optimizer_ids)
        return
    model_root = model_id if model_id is not None else 0
    optimizer_ids |= {
        child.node_id
        for child in graph.nodes[model_root].children
        if child.local_name == "optimizer"
    }
    for node_id in _reachable(graph, model_root, skip=optimizer_ids):
        if node_id in by_node:
            by_node[node_id].group = MODEL
    _assign_optimizer(graph, by_node, optimizer_ids)


def _assign_optimizer(graph: Any, by_node: dict[int, CkptVariable], optimizer_ids: set[int]
                      ) -> None:
    for start in optimizer_ids:
        for node_id in _reachable(graph, start, skip=set()):
            if node_id in by_node and by_node[node_id].group == OTHER:
                by_node[node_id].group = OPTIMIZER
        for slot in graph.nodes[start].slot_variables:
            if slot.slot_variable_node_id in by_node:
                by_node[slot.slot_variable_node_id].group = OPTIMIZER


_MODEL_MARKERS = {"_tracked", "_operations", "_inbound_nodes", "_losses", "layers"}
_OPTIMIZER_MARKERS = {"_iterations", "iter", "_learning_rate"}


def detect_roots(graph: Any, roots: dict[str, str] | None = None) -> dict[str, str]:
    """The root's model/optimizer child names: the config's, else `model`/`optimizer`, else
    guessed for `tf.train.Checkpoint(net=model, opt=optimizer)` (one non-optimizer child)."""
    roots = dict(roots or {})
    names = [c.local_name for c in graph.nodes[0].children]
    if roots.get("model") or "model" in names or _MODEL_MARKERS & set(names):
        return roots
    optimizer = roots.get("optimizer") or next(
        (c.local_name for c in graph.nodes[0].children
         if _OPTIMIZER_MARKERS & {g.local_name for g in graph.nodes[c.node_id].children}), None)
    others = [n for n in names if n not in (optimizer, "save_counter")]
    if len(others) == 1:
        roots["model"] = others[0]
        if optimizer:
            roots["optimizer"] = optimizer
    return roots


def root_children(graph: Any, model: str = "model", optimizer: str = "optimizer"):
    """Node ids of the root's model and optimizer children (None: the root is the model)."""
    children = {c.local_name: c.node_id for c in graph.nodes[0].children}
    return children.get(model), children.get(optimizer)


def _reachable(graph: Any, start: int, skip: set[int]) -> set[int]:
    seen, queue = {start}, deque([start])
    while queue:
        for child in graph.nodes[queue.popleft()].children:
            if child.node_id not in seen and child.node_id not in skip:
                seen.add(child.node_id)
                queue.append(child.node_id)
    return seen


def _optimizer_type(graph: Any, by_node: dict[int, CkptVariable]) -> str | None:
    """The optimizer's name from its values' recorded `full_name`s (`adam/...`): those stay
    the optimizer's even where the values are named by object path (duplicate full names,
    as with an EMA model sharing the optimizer's)."""
    prefixes: Counter[str] = Counter()
    for node_id, variable in by_node.items():
        if variable.group != OPTIMIZER:
            continue
        full = next((a.full_name for a in graph.nodes[node_id].attributes
                     if a.name == "VARIABLE_VALUE" and a.full_name), None) or variable.name
        prefixes[full.split("/")[0]] += 1
    return prefixes.most_common(1)[0][0] if prefixes else None


def python_root(info: CheckpointInfo, built: BuiltModel, roots: dict[str, str]) -> Any:
    """The object TensorFlow would restore into: a Checkpoint shaped like the saved root."""
    tf = import_tensorflow("restore")
    graph = info.details["graph"]
    roots = detect_roots(graph, roots)
    model_name = roots.get("model", "model")
    optimizer_name = roots.get("optimizer", "optimizer")
    model_id, optimizer_id = root_children(graph, model_name, optimizer_name)
    if model_id is None and not loop_roots.is_checkpoint_root(graph):
        return built.model
    children = {model_name: built.model}
    if optimizer_id is not None and built.optimizer is not None:
        children[optimizer_name] = built.optimizer
    return tf.train.Checkpoint(**children)


def pair(info: CheckpointInfo, built: BuiltModel, roots: dict[str, str]) -> tuple[Pairing, Pairing]:
    """Replay TensorFlow's matching; return the model and the optimizer pairings."""
    tf = import_tensorflow("restore")
    graph, by_node = info.details["graph"], info.details["by_node"]
    roots = detect_roots(graph, roots)
    if roots:  # `checkpoint.root` names the children: regroup model and optimizer values
        for variable in by_node.values():
            variable.group = OTHER
        _assign_groups(graph, by_node, roots)
        info.optimizer_type = _optimizer_type(graph, by_node)
    root = python_root(info, built, roots)  # the view holds only a weak reference
    view = tf.train.TrackableView(root)
    bound: dict[int, Any] = {0: root}
    queue = deque([0])
    while queue:
        node_id = queue.popleft()
        children = _children(view, bound[node_id])
        for child in graph.nodes[node_id].children:
            target = children.get(child.local_name)
            if target is not None and child.node_id not in bound:
                bound[child.node_id] = target
                queue.append(child.node_id)
    model = _pairing(by_node, bound, built.variables, MODEL)
    model_name = roots.get("model", "model")
    if root_children(graph, model_name)[0] is None and loop_roots.is_checkpoint_root(graph):
        model.notices.append(loop_roots.missing_child_notice(
            graph, model_name, len(model.matched), len(built.variables)))
    _explain_upgrade(info, model, view, root, built, roots)
    optimizer = _pairing(by_node, bound, built.optimizer_variables, OPTIMIZER)
    untracked.explain(model, built, root)
    return model, optimizer


def _explain_upgrade(info: CheckpointInfo, model: Pairing, view: Any, root: Any,
                     built: BuiltModel, roots: dict[str, str]) -> None:
    """A tf.keras (Keras 2) checkpoint that TensorFlow cannot restore into a Keras 3 model:
    name the upgrade as the cause, where Keras 3 tracks each variable, and the migration."""
    import keras

    if generation.major(keras.__version__) == "2" or model.clean:
        return
    prefix = detect_roots(info.details["graph"], roots).get("model", "model") \
        if root is not built.model else ""
    paths = _object_paths(view, built.model, prefix)
    model.paths.update({id(v.obj): paths[id(v.obj)] for v in model.missing if id(v.obj) in paths})
    if info.written_by.get(generation.GENERATION) == "2" and any(
            is_keras2_positional_key(c.key) for c in model.unexpected):
        model.cause = (
            "written by tf.keras (Keras 2), which tracked this model's layers as "
            "`layer_with_weights-N`; Keras 3 tracks them at other object paths, so "
            "tf.train.Checkpoint cannot restore it into the Keras 3 model (the Keras 2 → 3 "
            f"upgrade, not a change in the branch); {generation.MIGRATE_SHORT}"
        )
        model.notices.append(
            "TensorFlow cannot restore this tf.keras (Keras 2) checkpoint into the Keras 3 "
            f"model. Migrate the release: {generation.MIGRATE_WEIGHTS}.")
        for variable in model.missing:
            if paths.get(id(variable.obj)):
                model.notes[id(variable.obj)] = (
                    f"Keras 3 tracks it at `{paths[id(variable.obj)]}`; {model.cause}")
        return
    saved = {c.name: c.key.split("/.ATTRIBUTES")[0] for c in model.unexpected}
    for variable in model.missing:
        here, there = paths.get(id(variable.obj)), saved.get(variable.name)
        if here and there and _same_but_attribute(here, there):
            model.notes[id(variable.obj)] = (
                f"the release saved it at `{there}`, the branch's layer holds it at `{here}`: "
                "the same layer keeps this variable under another attribute name (as Keras 3 "
                "layers do after the Keras 2 → 3 upgrade), and tf.train.Checkpoint matches "
                f"object paths, so it does not restore; {generation.MIGRATE_SHORT}")


def _same_but_attribute(here: str, there: str) -> bool:
    """`model/hidden/_kernel` vs `model/hidden/kernel`: only the last name's underscore."""
    (a_parent, _, a), (b_parent, _, b) = here.rpartition("/"), there.rpartition("/")
    return a_parent == b_parent and a != b and a.lstrip("_") == b.lstrip("_")


def _object_paths(view: Any, root: Any, prefix: str = "") -> dict[int, str]:
    """id(object) -> the first object path (breadth first) from `root` (named `prefix`)."""
    paths: dict[int, str] = {id(root): prefix}
    queue = deque([root])
    while queue:
        obj = queue.popleft()
        for name, child in _children(view, obj).items():
            if id(child) not in paths:
                paths[id(child)] = f"{paths[id(obj)]}/{name}".lstrip("/")
                queue.append(child)
    return paths


def _children(view: Any, obj: Any) -> dict[str, Any]:
    try:
        return dict(view.children(obj))
    except Exception:  # variables and plain values have no children
        return {}


def _pairing(by_node: dict, bound: dict[int, Any], variables: list, group: str) -> Pairing:
    owner = {id(v.obj): v for v in variables}
    pairing, used = Pairing(), set()
    for node_id, ckpt in by_node.items():
        target = bound.get(node_id)
        model_var = owner.get(id(target)) if target is not None else None
        if model_var is not None and id(target) not in used:
            used.add(id(target))
            pairing.matched.append((ckpt, model_var))
        elif ckpt.group == group and model_var is None:
            pairing.unexpected.append(ckpt)
    pairing.missing = [v for v in variables if id(v.obj) not in used]
    return pairing


def restore(
    info: CheckpointInfo, built: BuiltModel, roots: dict[str, str], model: Pairing,
    optimizer: Pairing | None,
) -> int:
    """Restore the compatible values; return how many model variables were verified.

    When the metadata predict a clean match (model and optimizer), TensorFlow's own
    restore runs and every model variable is then checked to hold the checkpoint's
    value. Otherwise the compatible values are assigned one by one, so behaviour can
    still be measured. `optimizer=None` leaves the optimizer state alone.
    """
    tf = import_tensorflow("restore")
    try:
        return _restore_values(tf, info, built, roots, model, optimizer)
    except tf.errors.DataLossError as exc:  # checksum or size mismatch in a .data shard
        error = _unreadable(info.path, exc)
        raise GateError("restore", error.message, error.hint) from exc


def _restore_values(
    tf: Any, info: CheckpointInfo, built: BuiltModel, roots: dict[str, str], model: Pairing,
    optimizer: Pairing | None,
) -> int:
    reader = tf.train.load_checkpoint(str(info.path))
    root = python_root(info, built, roots)
    checkpoint = root if isinstance(root, tf.train.Checkpoint) else tf.train.Checkpoint(root)
    return restore_values(
        model, optimizer, lazy_reader(info.path, reader.get_tensor),
        lambda: checkpoint.read(str(info.path)).expect_partial(),
        f"TensorFlow's restore of {info.path}", passthrough=(tf.errors.DataLossError,),
    )
