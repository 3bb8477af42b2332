"""Pins the TensorFlow/Keras internals restore-gate relies on (restore_gate/_compat/): a
release that changes one of them fails here, by name, before any verdict depends on it. And
the fence: no module outside restore_gate/_compat/ touches a private TF/Keras name."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "restore_gate"
PRIVATE_MODULES = ("tensorflow.python", "keras.src")
# Private names of TF/Keras objects restore-gate reads; the checkpoint *keys* that spell some
# of them (`_trainable_variables/0`) are data, not attribute access, and are not matched.
PRIVATE_NAMES = {"_save_state", "_load_state", "H5IOStore", "_flatten_layers", "_tracked",
                 "_trainable_variables", "_non_trainable_variables", "_EagerSavedModelLoader",
                 "_extract_saver_restore", "_extract_signatures", "saving_lib"}
STDLIB_PRIVATE = {"_getframe", "_exit"}  # sys._getframe, os._exit: documented stdlib


def private_uses(source: str) -> list[str]:
    """Private TF/Keras names used in Python source: imports of their private modules,
    `obj._private` attributes (not self/cls) and `getattr(obj, "_private")`-style calls."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith(PRIVATE_MODULES)]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PRIVATE_MODULES):
            found.append(node.module)
        elif isinstance(node, ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else None
            private = node.attr.startswith("_") and not node.attr.startswith("__")
            if (node.attr in PRIVATE_NAMES or private) and owner not in ("self", "cls") \
                    and node.attr not in STDLIB_PRIVATE:
                found.append(f".{node.attr}")
        elif isinstance(node, ast.Name) and node.id in PRIVATE_NAMES:
            found.append(node.id)
        elif isinstance(node, ast.Call):
            for arg in node.args[1:2]:
                if isinstance(arg, ast.Constant) and arg.value in PRIVATE_NAMES:
                    found.append(f"{arg.value!r}")
    return found


def test_no_private_tf_or_keras_name_outside_the_fence():
    outside = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "_compat" in path.relative_to(PACKAGE).parts:
            continue
        uses = private_uses(path.read_text(encoding="utf-8"))
        if uses:
            outside[str(path.relative_to(PACKAGE.parent))] = uses
    assert outside == {}


@pytest.mark.parametrize("planted", [
    "from tensorflow.python.framework import ops\n",
    "def f(model):\n    return model._flatten_layers(include_self=True)\n",
    "def f(layer):\n    return getattr(layer, '_tracked', None)\n",
    "def f(lib, probe):\n    return patched(lib, '_load_state', probe)\n",
    "class Probe(saving_lib().H5IOStore):\n    pass\n",
])
def test_the_fence_sees_a_planted_private_use(planted):
    assert private_uses(planted)


def test_the_fence_ignores_checkpoint_keys_and_own_attributes():
    source = ("MARKERS = {'_tracked', '_trainable_variables'}\n"
              "class A:\n    def f(self):\n        return self._cache, sys._getframe(1)\n")
    assert private_uses(source) == []


def test_saving_walk_signatures():
    from restore_gate._compat.keras import saving_lib

    lib = saving_lib()
    save = inspect.signature(lib._save_state).parameters
    load = inspect.signature(lib._load_state).parameters
    assert list(save)[:5] == ["saveable", "weights_store", "assets_store", "inner_path",
                              "visited_saveables"]
    assert list(load)[:4] == ["saveable", "weights_store", "assets_store", "inner_path"]
    assert {"skip_mismatch", "visited_saveables", "failed_saveables", "error_msgs"} <= set(load)
    for method in ("make", "get", "has_path", "close"):
        assert callable(getattr(lib.H5IOStore, method)), method


def test_safe_mode_scope_forces_safe_mode():
    from keras.src.saving.serialization_lib import in_safe_mode

    from restore_gate._compat.keras import safe_mode_scope

    with safe_mode_scope():
        assert in_safe_mode() is True


def test_public_registry_and_functional_class():
    import keras

    from restore_gate._compat.keras import custom_object_names, is_functional

    @keras.saving.register_keras_serializable(package="pin")
    class Pinned(keras.layers.Layer):
        pass

    assert "pin>Pinned" in custom_object_names()
    inputs = keras.Input((2,))
    assert is_functional(keras.Model(inputs, keras.layers.Dense(1)(inputs)))
    assert not is_functional(keras.layers.Dense(1))


def test_patched_restores_the_original():
    import keras

    from restore_gate._compat.keras import patched

    original = keras.layers.Layer.__init__
    try:
        with patched(keras.layers.Layer, "__init__", lambda *a, **k: None) as saved:
            assert saved is original and keras.layers.Layer.__init__ is not original
            raise RuntimeError
    except RuntimeError:
        pass
    assert keras.layers.Layer.__init__ is original


def test_layer_walks_and_own_variables():
    import keras

    from restore_gate._compat.keras import flatten_layers, own_variables, tracked_attributes

    class Holder(keras.layers.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = [keras.layers.Dense(2), keras.layers.Dense(3)]
            self.scale = self.add_weight(shape=(1,), name="scale")

        def call(self, x):
            for block in self.blocks:
                x = block(x)
            return x * self.scale

    holder = Holder()
    holder(keras.ops.ones((1, 4)))
    layers = flatten_layers(holder, include_self=True)
    assert layers[0] is holder and layers[1:] == holder.blocks
    assert flatten_layers(object(), include_self=True) is None
    assert [v.name for v in own_variables(holder)] == ["scale"]  # not the Dense layers' own
    assert [v.name for v in own_variables(holder.blocks[0])] == ["kernel", "bias"]
    assert "blocks" in tracked_attributes(holder)


def test_saving_and_loading_walks_name_the_same_keys():
    import keras

    from restore_gate._compat.keras import loading_offers, saving_layout

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(inputs))
    layout = saving_layout(model)
    head = model.get_layer("head")
    assert layout == {"layers/dense/vars/0": head.kernel, "layers/dense/vars/1": head.bias}
    offers = loading_offers(model, {key: list(value.shape) for key, value in layout.items()})
    paths = [paths for saveable, paths in offers if saveable is head]
    assert paths and paths[0][0] == "layers/dense"  # the first path the loader tries


def test_by_reference_hands_the_optimizer_variables_themselves():
    import keras

    from restore_gate._compat.keras import by_reference

    optimizer = keras.optimizers.Adam()
    optimizer.build([keras.Variable([1.0, 2.0])])
    store: dict = {}
    with by_reference():
        optimizer.save_own_variables(store)
    assert [store[str(i)] for i in range(len(store))] == list(optimizer.variables)
    copies: dict = {}
    optimizer.save_own_variables(copies)  # outside: Keras's own method is back (copies)
    assert all(copies[k] is not store[k] for k in copies)


def test_tensorflow_loader_internals():
    from tensorflow.python.eager import wrap_function
    from tensorflow.python.framework import ops
    from tensorflow.python.saved_model import function_deserialization, load_v1_in_v2

    assert callable(ops.uid)
    assert {"library", "load_shared_name_suffix"} <= set(
        inspect.signature(function_deserialization.load_function_def_library).parameters)
    assert list(inspect.signature(function_deserialization.fix_node_def).parameters)[:3] == [
        "node_def", "functions", "shared_name_suffix"]
    assert "signature" in inspect.signature(wrap_function.wrap_function).parameters
    loader = load_v1_in_v2._EagerSavedModelLoader
    for method in ("load_graph", "_extract_saver_restore", "_extract_signatures"):
        assert callable(getattr(loader, method)), method
