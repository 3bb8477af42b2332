"""`tf.distribute` strategies: the scope a model is built and restored in.

`model.strategy` in the config names one (`default`, `mirrored`, `one_device`, or
`{type, devices}`); a builder that creates its own strategy needs none, since a Keras
model records the strategy it was created under (`model.distribute_strategy`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from restore_gate.errors import GateError, first_line
from restore_gate.runtime import import_tensorflow
from restore_gate.settings.sections import StrategySettings


def make_strategy(spec: StrategySettings | None) -> Any | None:
    """The strategy `model.strategy` names (None: no strategy, TensorFlow's default)."""
    if spec is None:
        return None
    kind, devices = spec.type, list(spec.devices) if spec.devices is not None else None
    tf = import_tensorflow("build")
    try:
        if kind == "default":
            return tf.distribute.get_strategy()
        if kind == "mirrored":
            return tf.distribute.MirroredStrategy(devices)
        if kind == "one_device":
            gpus = tf.config.list_logical_devices("GPU")
            return tf.distribute.OneDeviceStrategy(
                devices[0] if devices else ("/gpu:0" if gpus else "/cpu:0"))
    except (ValueError, RuntimeError, tf.errors.OpError) as exc:
        raise GateError(
            "build", f"cannot create the {kind} strategy of model.strategy (devices "
            f"{devices or 'default'}): {first_line(exc)}",
            "name devices this runner has (`tf.config.list_logical_devices()`), or run on a "
            "runner with them",
        ) from exc
    raise GateError("build", f"unknown model.strategy {kind!r}",
                    "use default, mirrored or one_device")


def model_strategy(model: Any) -> Any | None:
    """The strategy a Keras model was created under; None for TensorFlow's default one."""
    strategy = getattr(model, "distribute_strategy", None)
    if strategy is None:
        return None
    tf = import_tensorflow("build")
    return None if strategy is tf.distribute.get_strategy() else strategy


@contextmanager
def scope(strategy: Any | None) -> Iterator[None]:
    """`strategy.scope()`, or nothing without a strategy (or when already inside it)."""
    if strategy is None:
        yield
        return
    tf = import_tensorflow("build")
    inside = tf.distribute.has_strategy() and tf.distribute.get_strategy() is strategy
    with nullcontext() if inside else strategy.scope():
        yield


def describe(strategy: Any | None) -> dict[str, Any] | None:
    """For the report: the strategy's class and its number of replicas."""
    if strategy is None:
        return None
    return {"type": type(strategy).__name__, "replicas": int(strategy.num_replicas_in_sync)}
