"""Every use of Keras internals (`keras.src...`) in one place, with public APIs where they exist.

restore-gate replays Keras's own saving and loading walks so its pairing is exactly what
`load_weights` does; those walks are not public API. Each accessor here names the one
internal it relies on, and tests/test_keras_internals.py pins the signatures, so a Keras
release that changes them fails those tests first (not a verdict).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def saving_lib() -> Any:
    """`keras.src.saving.saving_lib`: `_save_state`, `_load_state`, `H5IOStore`."""
    from keras.src.saving import saving_lib as module

    return module


def safe_mode_scope() -> Any:
    """Keras's safe-mode scope, forced on while a release's config is deserialized."""
    from keras.src.saving.serialization_lib import SafeModeScope

    return SafeModeScope(True)


def custom_object_names() -> list[str]:
    """Registered names of the custom classes (public: `keras.saving.get_custom_objects`)."""
    import keras

    return sorted(keras.saving.get_custom_objects())


def is_functional(obj: Any) -> bool:
    """A functional model (Keras's `Functional` class is not public API)."""
    try:
        from keras.src.models.functional import Functional
    except ImportError:
        return type(obj).__name__ == "Functional"
    return isinstance(obj, Functional)


@contextmanager
def patched(owner: Any, attribute: str, replacement: Any) -> Iterator[Any]:
    """Replace `owner.attribute` for the block (e.g. `Layer.__init__`, `saving_lib._load_state`);
    yields the original."""
    original = getattr(owner, attribute)
    setattr(owner, attribute, replacement)
    try:
        yield original
    finally:
        setattr(owner, attribute, original)


class _Refused(Exception):
    """Raised by the probe store: makes Keras offer the layer at its next path."""


def loading_offers(model: Any, saved: dict[str, Any]) -> list[tuple[Any, list[str]]]:
    """(saveable, the paths Keras's loading walk offers it at, in walk order): `_load_state`
    over a probe `H5IOStore` that refuses every read and answers `has_path` from `saved`."""
    lib = saving_lib()
    groups = {"/".join(key.split("/")[:i]) for key in saved for i in range(1, key.count("/") + 1)}
    offered: dict[int, tuple[Any, list[str]]] = {}

    class Probe(lib.H5IOStore):
        def __init__(self) -> None:  # no file: answers from the metadata
            pass

        def __bool__(self) -> bool:
            return True

        def get(self, path: str) -> Any:
            return _RefusingEntry()

        def has_path(self, path: str) -> bool:
            return path in groups

        def close(self) -> None:
            pass

    original = lib._load_state

    def recording(saveable: Any, weights_store: Any, assets_store: Any, inner_path: str,
                  *args: Any, **kwargs: Any) -> Any:
        entry = offered.setdefault(id(saveable), (saveable, []))
        entry[1].append(inner_path)
        return original(saveable, weights_store, assets_store, inner_path, *args, **kwargs)

    with patched(lib, "_load_state", recording), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns about the layers the probe refuses
        recording(model, Probe(), None, "", skip_mismatch=False, visited_saveables=set(),
                  failed_saveables=set(), error_msgs={})
    return list(offered.values())


class _RefusingEntry(dict):
    """An empty store entry that refuses every read."""

    def keys(self) -> Any:
        raise _Refused

    def __getitem__(self, key: str) -> Any:
        raise _Refused

    def __len__(self) -> int:
        raise _Refused

    def __contains__(self, key: object) -> bool:
        raise _Refused

    def __iter__(self) -> Any:
        raise _Refused


def saving_layout(model: Any) -> dict[str, Any]:
    """The `vars/N` keys Keras's own saving walk gives the branch model, with their objects."""
    lib = saving_lib()

    class Recorder(lib.H5IOStore):
        def __init__(self) -> None:  # no file: record what would be written
            self.layout: dict[str, Any] = {}

        def make(self, path: str, metadata: dict | None = None) -> Any:
            prefix = f"{path}/vars" if path else "vars"
            layout = self.layout

            class Entry(dict):
                def __setitem__(self, key: str, value: Any) -> None:
                    layout[f"{prefix}/{key}"] = value

            return Entry()

        def close(self) -> None:
            pass

        def __bool__(self) -> bool:
            return True

    recorder = Recorder()
    lib._save_state(
        model, weights_store=recorder, assets_store=None, inner_path="", visited_saveables=set()
    )
    return recorder.layout


@contextmanager
def by_reference() -> Iterator[None]:
    try:
        from keras.src.optimizers.base_optimizer import BaseOptimizer
    except ImportError:  # another Keras: its walk is replayed as it is
        yield
        return
    original = BaseOptimizer.save_own_variables

    def save_references(self: Any, store: Any) -> None:
        for index, variable in enumerate(self.variables):
            store[str(index)] = variable

    BaseOptimizer.save_own_variables = save_references
    try:
        yield
    finally:
        BaseOptimizer.save_own_variables = original


def own_variables(layer: Any) -> list[Any]:
    """A layer's own variables, not its sublayers' (`_trainable_variables` and
    `_non_trainable_variables`, in that order)."""
    return [*(getattr(layer, "_trainable_variables", None) or []),
            *(getattr(layer, "_non_trainable_variables", None) or [])]


def flatten_layers(model: Any, include_self: bool) -> list[Any] | None:
    """Every layer under `model`, outer before inner (`_flatten_layers`); None when the
    object has no such walk (not a Keras layer)."""
    flatten = getattr(model, "_flatten_layers", None)
    return None if flatten is None else list(flatten(include_self=include_self))


def tracked_attributes(layer: Any) -> list[str]:
    """The attributes Keras 3 wrapped as TrackedList/TrackedDict (`layer._tracked`)."""
    return list(getattr(layer, "_tracked", None) or [])
