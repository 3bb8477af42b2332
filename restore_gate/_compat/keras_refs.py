"""Keras's saving walk without copies: the state a saveable writes, as references.

Layers hand `save_own_variables` their variables, but Keras 3's optimizer writes
`variable.numpy()`, a copy of every slot: replaying the walk over a compiled model (to
learn which file key loads into which variable) would hold a second copy of the optimizer
state, twice the model's size for Adam. While `by_reference()` is active the optimizer
writes its variables themselves, under the same keys, so the walks record objects only
(and the pairing knows them by identity, like the model's variables).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


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
