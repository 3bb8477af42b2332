"""Run the restored model: evaluation data, golden inputs, outputs and metrics.

This is the TensorFlow side of drift; `drift.py` judges the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from restore_gate.branch.build import resolve_callable
from restore_gate.errors import GateError, first_line, stopped
from restore_gate.settings.config import Config

MAX_GOLDEN_BYTES = 8 * 1024 * 1024
MAX_EVAL_BATCHES = 10_000


@dataclass
class Evaluation:
    """What the model gave: outputs on the golden inputs and metrics on the evaluation data."""

    output_names: list[str]
    golden_outputs: list[np.ndarray]
    metrics: dict[str, float] = field(default_factory=dict)
    metric_errors: dict[str, str] = field(default_factory=dict)


def load_eval_data(config: Config) -> tuple[Any, Any] | None:
    """`evaluation.data` from the branch code: (x, y) arrays or a tf.data.Dataset of (x, y)."""
    spec = config.evaluation.data
    if not spec:
        return None
    loader = resolve_callable(spec, config.root, config.model_paths, stage="evaluate")
    try:
        data = loader()
    except Exception as exc:
        raise GateError("evaluate", f"evaluation.data {spec} raised {first_line(exc)}",
                        "fix the data function or the data files it reads") from exc
    except BaseException as exc:
        raise stopped("evaluate", f"the data callable {spec} (evaluation.data)", exc) from exc
    if hasattr(data, "as_numpy_iterator"):
        return _collect_dataset(data, spec)
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise GateError("evaluate", f"evaluation.data {spec} returned {type(data).__name__}",
                        "return (x, y) arrays or a tf.data.Dataset of (x, y) batches")
    return data[0], np.asarray(data[1])


def _collect_dataset(dataset: Any, spec: str) -> tuple[Any, Any]:
    xs, ys = [], []
    for index, item in enumerate(dataset.as_numpy_iterator()):
        if index >= MAX_EVAL_BATCHES:
            raise GateError("evaluate", f"evaluation.data {spec} yields over "
                            f"{MAX_EVAL_BATCHES} batches", "batch the dataset or take() a slice")
        if not isinstance(item, tuple) or len(item) < 2:
            raise GateError("evaluate", f"evaluation.data {spec} must yield (x, y) batches",
                            "map the dataset to (features, labels)")
        xs.append(item[0])
        ys.append(item[1])
    if not xs:
        raise GateError("evaluate", f"evaluation.data {spec} is empty", "return some data")
    return _concat(xs), np.concatenate(ys)


def _concat(parts: list[Any]) -> Any:
    first = parts[0]
    if isinstance(first, dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in first}
    if isinstance(first, (tuple, list)):
        return [np.concatenate([p[i] for p in parts]) for i in range(len(first))]
    return np.concatenate(parts)


def is_text(array: Any) -> bool:
    """A NumPy array of strings (object arrays of bytes/str, `|S`, `<U`): Keras' `predict`
    rejects them, a `tf.constant` of them is a string tensor every text layer takes."""
    return isinstance(array, np.ndarray) and array.dtype.kind in "OSU"


def model_input(x: Any) -> Any:
    """Inputs as the model takes them: with any string array among them, every array
    becomes a tensor (Keras refuses a nest mixing tensors and arrays); else unchanged."""
    parts = list(x.values()) if isinstance(x, dict) else list(x) if isinstance(
        x, (list, tuple)) else [x]
    if not any(is_text(p) for p in parts):
        return x
    import tensorflow as tf

    def tensor(v: Any) -> Any:
        return tf.constant(v, dtype=tf.string) if is_text(v) else tf.convert_to_tensor(v)

    if isinstance(x, dict):
        return {k: tensor(v) for k, v in x.items()}
    return [tensor(v) for v in x] if isinstance(x, (list, tuple)) else tensor(x)


def _row_bytes(array: Any) -> int:
    """Bytes one sample takes in golden.npz: strings count their longest encoded value."""
    array = np.asarray(array)
    if not is_text(array) or not array.size:
        return max(1, array[:1].nbytes)
    head = array[: min(len(array), 1024)].reshape(-1)
    longest = max(len(v.encode() if isinstance(v, str) else bytes(v)) for v in head)
    return max(1, (longest + 8) * (array.size // max(1, len(array))))


def take(x: Any, count: int) -> Any:
    """The first `count` samples of an input (array, list or dict of arrays)."""
    if isinstance(x, dict):
        return {k: np.asarray(v[:count]) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [np.asarray(v[:count]) for v in x]
    return np.asarray(x[:count])


def golden_inputs(
    model: Any, data: tuple[Any, Any] | None, samples: int, input_shape: list | None = None
) -> Any:
    """Deterministic, size-bounded inputs: the first evaluation samples, else seeded noise
    of the model's input shape (its symbolic inputs, or `model.input_shape`)."""
    if data is not None:
        x = data[0]
        first = next(iter(x.values())) if isinstance(x, dict) else x[0] if isinstance(
            x, (list, tuple)) else x
        row_bytes = _row_bytes(first)
        return take(x, max(1, min(samples, MAX_GOLDEN_BYTES // row_bytes)))
    shapes = [tuple(input_shape)] if input_shape else _input_shapes(model)
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(samples, *[d or 1 for d in s[1:]])).astype("float32")
              for s in shapes]
    return arrays[0] if len(arrays) == 1 else arrays


def _input_shapes(model: Any) -> list[tuple]:
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise GateError(
            "evaluate", "the model has no symbolic inputs to derive golden inputs from",
            "set evaluation.data (golden inputs from real data) or model.input_shape",
        )
    return [tuple(t.shape) for t in inputs]


def predict(model: Any, x: Any, batch_size: int) -> tuple[list[str], list[np.ndarray]]:
    """Every output of the model on the evaluation data, named."""
    return _named(model, _guarded(lambda: model.predict(model_input(x), batch_size=batch_size,
                                                        verbose=0),
                                  "failed to predict",
                                  "check that evaluation.data matches the model's inputs"))


def call_outputs(model: Any, x: Any) -> tuple[list[str], list[np.ndarray]]:
    """Outputs on the (small) golden inputs from one direct call: no `predict` loop to set
    up, so it costs milliseconds; snapshot and check both use it, so they stay comparable."""
    return _named(model, _guarded(lambda: model(model_input(x), training=False),
                                  "failed on the golden inputs",
                                  "check that the model still takes the release's inputs"))


def _guarded(run: Any, what: str, hint: str) -> Any:
    try:
        return run()
    except Exception as exc:
        raise GateError("evaluate", f"the restored model {what}: {first_line(exc)}",
                        hint) from exc
    except BaseException as exc:  # the model's own (branch) code exited or interrupted
        raise stopped("evaluate", f"the restored model's code (run {what.removeprefix('failed ')})",
                      exc) from exc


def _named(model: Any, out: Any) -> tuple[list[str], list[np.ndarray]]:
    if isinstance(out, dict):
        names = sorted(out)
        return names, [np.asarray(out[n]) for n in names]
    if isinstance(out, (list, tuple)):
        names = list(getattr(model, "output_names", None) or [])
        if len(names) != len(out):
            names = [f"output_{i}" for i in range(len(out))]
        return names, [np.asarray(o) for o in out]
    names = list(getattr(model, "output_names", None) or ["output"])
    return names[:1], [np.asarray(out)]


def compute_metrics(
    model: Any, names: list[str], y: np.ndarray, outputs: list[np.ndarray]
) -> tuple[dict[str, float], dict[str, str]]:
    """Metrics from predictions; a metric that cannot be computed gets a reason instead."""
    values: dict[str, float] = {}
    errors: dict[str, str] = {}
    prediction = outputs[0]
    for name in names:
        try:
            values[name] = _metric(model, name, y, prediction)
        except Exception as exc:  # reported as "not measured", which fails a threshold
            errors[name] = f"{type(exc).__name__}: {exc}"
    return values, errors


def _metric(model: Any, name: str, y: np.ndarray, prediction: np.ndarray) -> float:
    if name == "accuracy":
        return _accuracy(y, prediction)
    if name == "loss":
        loss = getattr(model, "loss", None)
        if loss is None:
            raise ValueError("the model is not compiled with a loss")
        import keras

        fn = keras.losses.get(loss) if isinstance(loss, str) else loss
        return float(np.mean(np.asarray(fn(y, prediction))))
    import keras

    metric = keras.metrics.get(name)
    if hasattr(metric, "update_state"):
        metric.update_state(y, prediction)
        return float(metric.result())
    return float(np.mean(np.asarray(metric(y, prediction))))


def _accuracy(y: np.ndarray, prediction: np.ndarray) -> float:
    y = np.asarray(y)
    if prediction.ndim >= 2 and prediction.shape[-1] > 1:
        predicted = prediction.argmax(-1)
        labels = y.argmax(-1) if y.ndim == prediction.ndim else y.reshape(predicted.shape)
        return float(np.mean(predicted == labels))
    threshold = 0.0 if prediction.min() < 0 or prediction.max() > 1 else 0.5
    return float(np.mean((prediction.reshape(y.shape) > threshold) == (y > 0.5)))


def run(model: Any, config: Config, golden: Any, data: tuple[Any, Any] | None) -> Evaluation:
    """Outputs on the golden inputs and the configured metrics on the evaluation data."""
    batch_size = config.evaluation.batch_size
    names, outputs = call_outputs(model, golden) if golden is not None else ([], [])
    evaluation = Evaluation(names, outputs)
    metric_names = list(config.evaluation.metrics)
    if data is None:
        evaluation.metric_errors = {m: "no evaluation.data in the config" for m in metric_names}
        return evaluation
    _, eval_outputs = predict(model, data[0], batch_size)
    evaluation.metrics, evaluation.metric_errors = compute_metrics(
        model, metric_names, data[1], eval_outputs
    )
    return evaluation
