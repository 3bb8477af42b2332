"""Build the model from the branch's own code, recording where each layer was made.

The builder is `module:callable` from `.restore-gate.yml`. While it runs, every
Keras layer constructed records the first stack frame inside the repository, so
the report can point at `models/classifier.py:14` for the layer to fix.
"""

from __future__ import annotations

import difflib
import importlib
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from restore_gate._compat.keras import patched
from restore_gate.branch.identity import object_paths
from restore_gate.branch.strategy import make_strategy, model_strategy
from restore_gate.branch.strategy import scope as strategy_scope
from restore_gate.core.checkpoint import MODEL, OPTIMIZER, layer_of
from restore_gate.core.variables import BuiltModel, ModelVariable
from restore_gate.errors import GateError, first_line, stopped
from restore_gate.runtime import import_tensorflow
from restore_gate.settings.config import Config


def resolve_callable(spec: str, root: Path, extra_paths: list[Path], stage: str = "build") -> Any:
    """Import `module:callable` from the working tree; errors name what is missing."""
    module_name, _, attr = spec.partition(":")
    forget_modules_under([root, *extra_paths], module_name.split(".")[0])
    with _on_sys_path([root, *extra_paths]):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            searched = ", ".join(str(p) for p in [root, *extra_paths])
            raise GateError(
                stage,
                f"cannot import module '{module_name}' for '{spec}': {exc}",
                f"check the module path (searched {searched} and the environment); add the "
                "folder holding it to `model.paths`, or install the package it needs "
                "(`requirements` input in the action)",
                code="builder-import-failed",
            ) from exc
        except Exception as exc:
            raise GateError(
                stage,
                f"importing '{module_name}' raised {first_line(exc)}",
                f"fix the error at {_user_frame(exc, root)}",
                code="builder-raised",
            ) from exc
        except BaseException as exc:  # sys.exit() & co. at import time
            raise stopped(stage, f"importing '{module_name}' for '{spec}'", exc,
                          f"remove it at {_user_frame(exc, root)}") from exc
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            names = [n for n in dir(target) if not n.startswith("_")]
            guess = difflib.get_close_matches(part, names, n=1)
            suggestion = f"; did you mean '{guess[0]}'?" if guess else ""
            raise GateError(
                stage,
                f"'{module_name}' has no callable '{attr}'{suggestion}",
                f"define {attr} in {getattr(module, '__file__', module_name)} or fix `{spec}` "
                "in the config",
                code="builder-not-found",
            )
        target = getattr(target, part)
    if not callable(target):
        raise GateError(stage, f"'{spec}' is not callable", "point the config at a function",
                        code="builder-not-callable")
    return target


def build_model(
    config: Config, input_shape: list | None = None, build_optimizer: bool = True
) -> BuiltModel:
    """Run the branch's builder, build the model and its optimizer, list their variables.

    `build_optimizer=False` leaves a Keras optimizer's lazily created slots uncreated (they
    would cost twice the model's memory for Adam) when there is no state to restore into them.
    """
    import_tensorflow("build")
    import keras

    keras.backend.clear_session()  # fresh layer-name counters, as in a new CI process
    for module_name in config.model.custom_objects:
        _import_custom_objects(module_name, config)
    builder = resolve_callable(config.model.builder, config.root, config.model_paths)
    args = config.model.args
    paths = [config.root, *config.model_paths]
    strategy = make_strategy(config.model.strategy)
    with _on_sys_path(paths), record_layer_sources(config.root) as made:
        try:
            with strategy_scope(strategy):
                model = builder(**args)
        except GateError:
            raise
        except Exception as exc:
            raise GateError(
                "build",
                f"the builder {config.model.builder} raised {type(exc).__name__}: {exc}",
                f"fix the error at {_user_frame(exc, config.root)}; if a custom class is "
                "missing, register it or list its module under `model.custom_objects`",
            ) from exc
        except BaseException as exc:
            raise stopped("build", f"the builder {config.model.builder}", exc,
                          f"remove it at {_user_frame(exc, config.root)}: a builder returns "
                          "the model") from exc
        strategy = model_strategy(model) or strategy  # a builder's own strategy wins
        shape = config.model.input_shape or input_shape
        with strategy_scope(strategy):
            notices = ensure_built(model, shape)
            optimizer = getattr(model, "optimizer", None)
            if optimizer is not None and build_optimizer:
                _build_optimizer(optimizer, model)
    sources = {getattr(layer, "name", ""): where for layer, where in made}
    paths = _object_paths(model)
    return BuiltModel(
        model=model,
        optimizer=optimizer,
        variables=[_describe(v, MODEL, paths.get(id(v))) for v in _model_weights(model)],
        optimizer_variables=[_describe(v, OPTIMIZER) for v in getattr(optimizer, "variables", [])],
        sources=sources,
        notices=notices,
        strategy=strategy,
    )


def build_optimizer_slots(built: BuiltModel) -> None:
    """Create the optimizer's lazily created slots (after `build_optimizer=False`), list them."""
    if built.optimizer is None:
        return
    with strategy_scope(built.strategy):
        _build_optimizer(built.optimizer, built.model)
    built.optimizer_variables = [
        _describe(v, OPTIMIZER) for v in getattr(built.optimizer, "variables", [])]


def _import_custom_objects(module_name: str, config: Config) -> None:
    forget_modules_under([config.root, *config.model_paths], module_name.split(".")[0])
    with _on_sys_path([config.root, *config.model_paths]):
        try:
            importlib.import_module(module_name)
        except Exception as exc:
            raise GateError(
                "build",
                f"cannot import custom_objects module '{module_name}': {exc}",
                "fix `model.custom_objects` in the config or the module it names",
            ) from exc
        except BaseException as exc:
            raise stopped("build", f"importing the custom_objects module '{module_name}'",
                          exc, f"remove it at {_user_frame(exc, config.root)}") from exc


def ensure_built(model: Any, input_shape: list | None) -> list[str]:
    """Create the model's variables; Keras 3 leaves an unbuilt model's weights uncreated.

    A subclassed model without its own `build()` is marked built by `model.build(shape)`
    but gets no weights: Keras's public `build_from_config(get_build_config())` creates
    them by calling the model on the recorded shape. Returns the notices of what was done.
    """
    if getattr(model, "built", True) and _model_weights(model):
        return []
    recorded = _recorded_build_shape(model)
    if recorded is not None and not input_shape:
        try:
            model.build_from_config(model.get_build_config())
        except Exception as exc:
            raise GateError(
                "build",
                f"building the {type(model).__name__} from its recorded build shape "
                f"{recorded} failed: {type(exc).__name__}: {exc}",
                "set `model.input_shape` in the config, or call the model once on an input "
                "inside the builder",
            ) from exc
        if _model_weights(model):
            return [f"The builder returned a {type(model).__name__} marked built without "
                    f"weights (model.build({recorded}) on a model without its own build()); "
                    "the gate created them with Keras's build_from_config(get_build_config()), "
                    "as loading a saved model does."]
    if not input_shape:
        raise GateError(
            "build",
            f"the builder returned an unbuilt {type(model).__name__} (no variables yet)",
            "set `model.input_shape` in the config (e.g. [null, 28, 28, 1]), give the model a "
            "keras.Input, or call it once inside the builder",
        )
    import numpy as np

    shape = [1 if d is None else d for d in input_shape]
    try:
        model(np.zeros(shape, dtype="float32"))
    except Exception as exc:
        raise GateError(
            "build",
            f"calling the model on zeros of shape {shape} failed: {exc}",
            "check `model.input_shape` in the config",
        ) from exc
    except BaseException as exc:
        raise stopped("build", f"calling the model on zeros of shape {shape}", exc) from exc
    return []


def _recorded_build_shape(model: Any) -> Any:
    """The input shape Keras recorded when the model was built, if any."""
    try:
        config = model.get_build_config() if getattr(model, "built", False) else None
    except Exception:
        return None
    return config.get("input_shape") if isinstance(config, dict) else None


def _build_optimizer(optimizer: Any, model: Any) -> None:
    """Keras 3 optimizers create their slots lazily: build them before restoring."""
    if getattr(optimizer, "built", True):
        return
    try:
        optimizer.build(model.trainable_variables)
    except Exception as exc:
        raise GateError(
            "build", f"building the optimizer {type(optimizer).__name__} for the model's "
            f"{len(model.trainable_variables)} trainable variables failed: {first_line(exc)}",
            "compile the model with a standard Keras optimizer in the builder",
            code="optimizer-build-failed",
        ) from exc


def _model_weights(model: Any) -> list:
    weights = getattr(model, "weights", None)
    return list(weights if weights is not None else getattr(model, "variables", []))


def _object_paths(model: Any) -> dict[int, str]:
    try:
        return object_paths(model)
    except Exception:  # not a Keras model (tf.Module): no identities, no moves claimed
        return {}


def _describe(variable: Any, group: str, identity: str | None = None) -> ModelVariable:
    name = getattr(variable, "path", None) or variable.name.split(":")[0]
    dtype = getattr(variable.dtype, "name", None) or str(variable.dtype)
    shape = [int(d) if d is not None else None for d in variable.shape]
    return ModelVariable(name=name, layer=layer_of(name), shape=shape, dtype=dtype,
                         obj=variable, group=group, identity=identity)


def forget_modules_under(paths: list[Path], top: str | None = None) -> None:
    """Drop cached modules of the working tree (and other copies of package `top`, e.g. from
    a baseline worktree), so the code under `paths` is what gets imported."""
    roots = [p.resolve() for p in paths]
    package = Path(__file__).resolve().parent.parent
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file or "site-packages" in file or "dist-packages" in file:
            continue  # cheap string test first: resolving thousands of paths takes a second
        path = Path(file).resolve()
        if path.is_relative_to(package) or "site-packages" in path.parts:
            continue
        if any(path.is_relative_to(r) for r in roots) or (top and name.split(".")[0] == top):
            del sys.modules[name]


@contextmanager
def _on_sys_path(paths: list[Path]) -> Iterator[None]:
    added = [str(p) for p in paths if str(p) not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for p in added:
            if p in sys.path:
                sys.path.remove(p)


@contextmanager
def record_layer_sources(root: Path) -> Iterator[list[tuple[Any, str]]]:
    """Record `file:line` in the repository where each Keras layer is constructed."""
    made: list[tuple[Any, str]] = []
    try:
        from keras.layers import Layer
    except ImportError:  # not Keras 3: no sources, nothing else changes
        yield made
        return

    original = Layer.__init__
    root = root.resolve()

    def recording_init(self: Any, *args: Any, **kwargs: Any) -> None:
        where = _caller_in(root)
        if where:
            made.append((self, where))
        original(self, *args, **kwargs)

    with patched(Layer, "__init__", recording_init):
        yield made


def _caller_in(root: Path) -> str | None:
    frame = sys._getframe(2)
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if _is_user_file(path, root):
            return f"{_relative(path, root)}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def _is_user_file(path: Path, root: Path) -> bool:
    text = str(path)
    if "site-packages" in text or "dist-packages" in text or text.startswith("<"):
        return False
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def _relative(path: Path, root: Path) -> str:
    return path.resolve().relative_to(root).as_posix()


def _user_frame(exc: BaseException, root: Path) -> str:
    """The innermost traceback line inside the repository, for error hints."""
    where = "the builder"
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename)
        if _is_user_file(path, root.resolve()):
            where = f"{_relative(path, root.resolve())}:{frame.lineno}"
    return where
