"""SavedModels (`tf.saved_model.save`, `model.export`, TF1 `SavedModelBuilder`).

`saved_model.pb` is parsed without TensorFlow (its messages are declared in
formats/tensorflow/_protos.py): the serving meta graph gives the writer's `tensorflow_version`,
its signatures and any device pins. The values are the checkpoint in `variables/`, read
by the TF2 reader (object graph) or the TF1 one (names). Matching into the branch model:

- `object-graph`: a TF2 SavedModel whose root is the model (`tf.saved_model.save`
  of a Keras 3 model or a `tf.Module`): TensorFlow's own object-graph matching.
- `names`: a TF1 SavedModel (no object graph), a `model.export` archive (its root
  holds the variables in lists) or a Keras-2-era SavedModel (`keras_metadata.pb`):
  each branch variable takes the value saved under its name (`dense/kernel`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from restore_gate._compat.tensorflow import build_functions, build_v1_graph
from restore_gate.core.checkpoint import MODEL, CheckpointInfo, CkptVariable, layer_of
from restore_gate.core.pairing import Pairing
from restore_gate.core.variables import BuiltModel
from restore_gate.errors import GateError, first_line
from restore_gate.formats.tensorflow import (
    _protos as _tf_protos,
)
from restore_gate.formats.tensorflow import (
    checkpoint as tf_checkpoint,
)
from restore_gate.formats.tensorflow import (
    signatures,
    tf1_checkpoint,
)
from restore_gate.formats.tensorflow.saved_model_pb import parse_saved_model, serving_meta_graph
from restore_gate.runtime import import_tensorflow

FORMAT = "saved-model"
OBJECT_GRAPH, NAMES = "object-graph", "names"
_EXPORT_CHILDREN = {"variables", "trainable_variables", "non_trainable_variables"}


def is_saved_model(path: Path) -> bool:
    return path.is_dir() and any(
        (path / name).is_file() for name in ("saved_model.pb", "saved_model.pbtxt")
    )


def read(path: Path) -> CheckpointInfo:
    """Versions, signatures and variables of a SavedModel (no tensor data is read).

    A SavedModel whose graph TensorFlow cannot parse is still listed (variables and
    the versions that can be read); `details["problem"]` says why, and `pair` refuses it.
    """
    proto = parse_saved_model(path)
    written_by, extra, problem = _keras_metadata(path), {}, None
    try:
        meta_graph = serving_meta_graph(proto, path)
    except GateError as error:
        meta_graph, problem = None, error
    if meta_graph is not None:
        written_by.update(
            tf1_checkpoint.versions_of(meta_graph.meta_info_def, meta_graph.graph_def))
        devices = pinned_devices(meta_graph)
        if devices:
            written_by["devices"] = ", ".join(devices)
        extra["tags"] = sorted(meta_graph.meta_info_def.tags)
        extra["signatures"] = signatures.of_meta_graph(meta_graph)
        extra["init_ops"] = init_ops(meta_graph)
    inner = _variables(path)
    mode = _mode(inner, path)
    if inner is not None and mode == NAMES and inner.format == tf_checkpoint.FORMAT:
        inner = _by_full_name(inner)
    extra["matching"] = mode
    if problem is not None:
        extra["problems"] = [problem.message]
    files = sorted(f for f in path.rglob("*") if f.is_file())
    return CheckpointInfo(
        FORMAT, path, inner.variables if inner else [], written_by=written_by,
        optimizer_type=inner.optimizer_type if inner else None, files=files,
        details={"inner": inner, "mode": mode, "problem": problem, "meta_graph": meta_graph},
        extra=extra,
    )


def _keras_metadata(path: Path) -> dict[str, str]:
    """`keras` and `backend` from a Keras-2-era `keras_metadata.pb`."""
    file = path / "keras_metadata.pb"
    if not file.is_file():
        return {}
    try:
        proto = _tf_protos.parse("SavedMetadata", file.read_bytes())
        root = next((n for n in proto.nodes if n.node_path == "root"), None)
        metadata = json.loads(root.metadata) if root is not None else {}
    except Exception:  # a damaged side file must not hide the rest
        return {"keras": "unreadable keras_metadata.pb"}
    found = {"keras": metadata.get("keras_version"), "backend": metadata.get("backend")}
    return {k: str(v) for k, v in found.items() if v}


_INIT_COLLECTIONS = {"saved_model_main_op": "main_op", "legacy_init_op": "legacy_init_op",
                     "saved_model_train_op": "train_op"}


def init_ops(meta_graph: Any) -> list[str]:
    """The ops TensorFlow's loader would run on load (TF1 `main_op` / `legacy_init_op`, the
    `__saved_model_init_op`), unless they do nothing; restore-gate never runs them."""
    found = []
    init = meta_graph.signature_def.get(signatures.INIT_OP)
    if init is not None:
        found += [("init_op", t.name) for t in init.outputs.values()]
    for key, kind in _INIT_COLLECTIONS.items():
        if key in meta_graph.collection_def:
            found += [(kind, n) for n in meta_graph.collection_def[key].node_list.value]
    nodes = {n.name: n for n in meta_graph.graph_def.node}
    listed = []
    for kind, name in found:
        node = nodes.get(name.split(":")[0])
        if node is not None and node.op == "NoOp" and not node.input:
            continue
        listed.append(f"{kind} {name} ({node.op if node is not None else 'not in the graph'}): "
                      "not run")
    return listed


def pinned_devices(meta_graph: Any) -> list[str]:
    """Devices the graph's ops are pinned to (`/device:GPU:0`), from nodes and functions."""
    nodes = list(meta_graph.graph_def.node)
    for function in meta_graph.graph_def.library.function:
        nodes.extend(function.node_def)
    return sorted({n.device for n in nodes if n.device})


def _variables(path: Path) -> CheckpointInfo | None:
    prefix = path / "variables" / "variables"
    if not Path(f"{prefix}.index").is_file():
        return None
    return tf_checkpoint.read(prefix)


def _mode(inner: CheckpointInfo | None, path: Path) -> str:
    if inner is None or inner.format != tf_checkpoint.FORMAT:
        return NAMES
    graph = inner.details["graph"]
    children = {c.local_name for c in graph.nodes[0].children}
    if children >= _EXPORT_CHILDREN or (path / "keras_metadata.pb").is_file():
        return NAMES
    return OBJECT_GRAPH


def _by_full_name(inner: CheckpointInfo) -> CheckpointInfo:
    """One value per variable name: `model.export` saves each variable in two lists."""
    graph, by_node = inner.details["graph"], inner.details["by_node"]
    seen: dict[str, CkptVariable] = {}
    for node_id, variable in sorted(by_node.items()):
        names = [a.full_name for a in graph.nodes[node_id].attributes if a.full_name]
        name = names[0] if names else variable.name
        if name not in seen:
            variable.name, variable.layer = name, layer_of(name)
            seen[name] = variable
    inner.variables = sorted(seen.values(), key=lambda v: (v.group != MODEL, v.name))
    return inner


def pair(info: CheckpointInfo, built: BuiltModel, roots: dict[str, str]) -> tuple[Pairing, Pairing]:
    """Refuse what TF cannot load; match values; compare the serving signature."""
    if info.details["problem"] is not None:
        problem = info.details["problem"]
        raise GateError("restore", problem.message, problem.hint)
    load_check(info.path, info.details["meta_graph"])
    inner = info.details["inner"]
    if inner is None:  # no variables/ folder: nothing to restore
        model, optimizer = Pairing(missing=list(built.variables)), Pairing()
    elif info.details["mode"] == OBJECT_GRAPH:
        model, optimizer = tf_checkpoint.pair(inner, built, roots)
    else:
        model, optimizer = tf1_checkpoint.pair(inner, built, roots)
    style = _writer_style(info)
    release = info.extra.get("signatures", {})
    model.extra += signatures.compare(release, signatures.of_branch(built, style))
    return model, optimizer


def _writer_style(info: CheckpointInfo) -> str:
    inner = info.details["inner"]
    if info.details["mode"] == OBJECT_GRAPH and inner is not None:
        return signatures.SAVE
    return signatures.EXPORT


def load_check(path: Path, meta_graph: Any) -> None:
    """TensorFlow must be able to build the release's graph; nothing of it runs.

    `tf.saved_model.load` would run the release's restore op and its init ops (a TF1
    `main_op` / `legacy_init_op`, a TF2 resource initializer): code from the release,
    able to read and write host files. Instead the graph and its functions are built
    the way TensorFlow's loader builds them, without executing any op; the values are
    read from `variables/` by the checkpoint reader.
    """
    tf = import_tensorflow("restore")
    try:
        graph = _tf_meta_graph(path, meta_graph)
        if graph.object_graph_def.nodes:
            build_functions(graph)
        else:
            build_v1_graph(path, graph)
    except Exception as exc:
        raise GateError(
            "restore",
            f"TensorFlow {tf.__version__} cannot load the SavedModel {path}: {first_line(exc)}",
            "the release was written by a TensorFlow this version no longer reads (e.g. "
            "reference-typed TF1 variables or ops removed since): re-export it with a current "
            "TensorFlow, or release a tf.train.Checkpoint / .weights.h5 beside it",
            code="saved-model-unloadable",
        ) from exc


def _tf_meta_graph(path: Path, meta_graph: Any) -> Any:
    """The same meta graph as TensorFlow's own message (the one `_tf_protos` declares holds
    only the fields inspect reads; TensorFlow's loader needs them all)."""
    from google.protobuf import text_format
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    binary = path / "saved_model.pb"
    if binary.is_file():
        proto.ParseFromString(binary.read_bytes())
    else:
        text_format.Parse((path / "saved_model.pbtxt").read_text("utf-8"), proto)
    tags = list(meta_graph.meta_info_def.tags)
    return next((g for g in proto.meta_graphs if list(g.meta_info_def.tags) == tags),
                proto.meta_graphs[0])






def restore(info: CheckpointInfo, built: BuiltModel, roots: dict[str, str], model: Pairing,
            optimizer: Pairing | None) -> int:
    inner = info.details["inner"]
    if inner is None:
        return 0
    if info.details["mode"] == OBJECT_GRAPH:
        return tf_checkpoint.restore(inner, built, roots, model, optimizer)
    return tf1_checkpoint.restore(inner, built, roots, model, optimizer)
