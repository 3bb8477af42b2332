"""Every use of TensorFlow internals (`tensorflow.python...`) in one place.

A SavedModel's graph is built the way TensorFlow's own loader builds it, without running any
op; that loader is not public API. tests/test_keras_internals.py pins each name used here.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any


def build_functions(meta_graph: Any) -> None:
    """A TF2 SavedModel: its function library, built as graphs (not called)."""
    from tensorflow.python.framework import ops
    from tensorflow.python.saved_model import function_deserialization

    function_deserialization.load_function_def_library(
        meta_graph.graph_def.library, load_shared_name_suffix=f"_restore_gate_{ops.uid()}")


def build_v1_graph(path: Path, meta_graph: Any) -> None:
    """A TF1 SavedModel: `load_v1_in_v2`'s steps (import the meta graph, prune the saver
    and the signatures), minus the two that execute ops: the restore and the init op."""
    from tensorflow.python.eager import wrap_function
    from tensorflow.python.framework import ops
    from tensorflow.python.saved_model import function_deserialization, load_v1_in_v2

    loader = load_v1_in_v2._EagerSavedModelLoader(str(path))
    suffix = f"_restore_gate_{ops.uid()}"
    functions = function_deserialization.load_function_def_library(
        meta_graph.graph_def.library, load_shared_name_suffix=suffix)
    meta_graph.graph_def.library.Clear()
    for function in functions.values():
        meta_graph.graph_def.library.function.add().CopyFrom(function.function_def)
    for node in meta_graph.graph_def.node:
        function_deserialization.fix_node_def(node, functions, suffix)
    returns: list[Any] = [None]
    wrapped = wrap_function.wrap_function(
        functools.partial(loader.load_graph, returns, meta_graph), signature=[])
    loader._extract_saver_restore(wrapped, returns[0])
    loader._extract_signatures(wrapped, meta_graph)
