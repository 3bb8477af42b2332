"""Pins the Keras internals restore-gate relies on (restore_gate/_compat/keras.py): a Keras
release that changes one of them fails here, by name, before any verdict depends on it."""

from __future__ import annotations

import inspect


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
