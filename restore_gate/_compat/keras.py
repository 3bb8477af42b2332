"""Every use of Keras internals (`keras.src...`) in one place, with public APIs where they exist.

restore-gate replays Keras's own saving and loading walks so its pairing is exactly what
`load_weights` does; those walks are not public API. Each accessor here names the one
internal it relies on, and tests/test_keras_internals.py pins the signatures, so a Keras
release that changes them fails those tests first (not a verdict).
"""

from __future__ import annotations

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
