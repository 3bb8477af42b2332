"""The model config stored in a release `.keras` (and legacy `.h5`) file: classes, safety.

`inspect` lists the release's layer classes from the JSON alone (nothing is
deserialized). `check` rebuilds the release's config with the branch's classes,
as `keras.models.load_model` would, to catch a custom class the branch no longer
defines or registers (renamed, moved, unregistered). That rebuild runs with Keras's
`safe_mode` forced on (even if the branch called `enable_unsafe_deserialization`),
and a `Lambda` layer is refused before Keras sees the config, so no code stored in a
release is ever executed.
"""

from __future__ import annotations

import difflib
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from restore_gate._compat.keras import custom_object_names, safe_mode_scope
from restore_gate.errors import GateError
from restore_gate.formats.keras.zip import check_keras_zip

CONFIG_ENTRY = "config.json"
_KERAS_MODULES = ("keras", "keras_hub", "keras_cv", "keras_nlp", "builtins")


def read_keras_config(path: Path) -> dict[str, Any]:
    """`config.json` of a `.keras` zip, parsed as plain JSON (its size checked first); it must
    be an object."""
    check_keras_zip(path)
    hint = "the .keras file is truncated or corrupted: re-create it with model.save()"
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read(CONFIG_ENTRY))
    except (KeyError, json.JSONDecodeError, zipfile.BadZipFile, OSError, UnicodeDecodeError) \
            as exc:
        raise GateError(
            "inspect", f"cannot read {CONFIG_ENTRY} in {path}: {type(exc).__name__}: {exc}", hint,
        ) from exc
    except RecursionError:
        raise GateError("inspect", f"{CONFIG_ENTRY} in {path} is nested too deeply to be read "
                        "(over Python's recursion limit)", hint) from None
    if not isinstance(config, dict):
        raise GateError("inspect", f"{CONFIG_ENTRY} in {path} is not a JSON object (it holds a "
                        f"JSON {_json_kind(config)}): model.save() writes the model's config "
                        "as an object", hint)
    return config


def _json_kind(value: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return kinds.get(type(value), "null")


def objects(config: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every serialized object (a dict with `class_name`) anywhere in the config."""
    if depth > 64:
        return
    if isinstance(config, dict):
        if isinstance(config.get("class_name"), str):
            yield config
        for value in config.values():
            yield from objects(value, depth + 1)
    elif isinstance(config, list):
        for value in config:
            yield from objects(value, depth + 1)


def layer_classes(config: Any) -> list[dict[str, Any]]:
    """The model and its layers: name, class, module and registered name, in file order."""
    found = []
    for entry in _layers(config):
        inner = entry.get("config") if isinstance(entry.get("config"), dict) else {}
        found.append({
            "name": str(inner.get("name", "")),
            "class_name": entry["class_name"],
            "module": entry.get("module"),
            "registered_name": entry.get("registered_name"),
            "custom": is_custom(entry),
        })
    return found


def _layers(config: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 32 or not isinstance(config, dict) or "class_name" not in config:
        return
    yield config
    inner = config.get("config")
    nested = inner.get("layers") if isinstance(inner, dict) else None
    for layer in nested if isinstance(nested, list) else []:
        yield from _layers(layer, depth + 1)
    if isinstance(inner, dict) and isinstance(inner.get("layer"), dict):  # wrappers
        yield from _layers(inner["layer"], depth + 1)


def is_custom(entry: dict[str, Any]) -> bool:
    module = entry.get("module")
    registered = entry.get("registered_name") or ""
    if module is None:  # Keras 2 configs: a registered class is `package>Class`
        return ">" in str(entry.get("class_name", ""))
    return str(module).split(".")[0] not in _KERAS_MODULES or ">" in str(registered)


def lambdas(config: Any) -> list[str]:
    """Names of Lambda layers (and any serialized Python lambda) in the config."""
    found = []
    for entry in objects(config):
        if entry["class_name"] in ("Lambda", "__lambda__"):
            inner = entry.get("config") if isinstance(entry.get("config"), dict) else {}
            found.append(str(inner.get("name", entry["class_name"])))
    return found


def check_loadable(path: Path, config: dict[str, Any]) -> None:
    """Rebuild the release's config with the branch's classes, in safe mode.

    Raises a GateError naming a Lambda layer, a custom class the branch lacks, or the
    error the branch's classes raise on the release's config.
    """
    refuse_lambdas(path, config)
    for entry in objects(config):
        if is_custom(entry):
            _require_registered(path, entry)
    import keras

    try:
        with safe_mode_scope():
            keras.saving.deserialize_keras_object(config, safe_mode=True)
    except Exception as exc:
        raise GateError(
            "build",
            f"the release's model config in {path.name} does not rebuild with the branch's "
            f"classes: {type(exc).__name__}: {_reason(exc)}",
            "a custom layer's constructor or get_config() changed incompatibly: keep the "
            "old arguments (accept and ignore removed ones) so released .keras files load",
        ) from exc


def _reason(exc: Exception) -> str:
    """The innermost message: Keras wraps a layer's error in its model's TypeError."""
    text = str(exc).rsplit("Exception encountered:", 1)[-1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:500] if lines else ""


def refuse_lambdas(path: Path, config: dict[str, Any]) -> None:
    names = lambdas(config)
    if names:
        raise GateError(
            "build",
            f"refusing the Lambda layer(s) {', '.join(repr(n) for n in names)} in {path.name}: "
            "a Lambda stores Python bytecode, and restore-gate opens release .keras files with "
            "safe_mode on and never runs code from a release",
            "replace the Lambda with a custom layer registered with "
            "@keras.saving.register_keras_serializable (the file then holds no code), or "
            "release the weights alone with model.save_weights('model.weights.h5')",
        )


def _require_registered(path: Path, entry: dict[str, Any]) -> None:
    from keras.saving import get_registered_object

    class_name = entry["class_name"]
    registered = entry.get("registered_name") or class_name
    if get_registered_object(registered) is not None:
        return
    module = entry.get("module") or "unknown"
    inner = entry.get("config") if isinstance(entry.get("config"), dict) else {}
    layer = inner.get("name")
    known = custom_object_names()
    guess = difflib.get_close_matches(registered, known, n=1, cutoff=0.5)
    renamed = f"; the branch registers '{guess[0]}': was it renamed?" if guess else ""
    package = f"package={registered.split('>')[0]!r}" if ">" in registered else ""
    raise GateError(
        "build",
        f"custom class '{class_name}' (registered as '{registered}', defined in module "
        f"'{module}'{f', layer {layer!r}' if layer else ''}) of the release model in "
        f"{path.name} is not registered in the branch{renamed}",
        f"the release expects `{class_name}` in module `{module}`, decorated with "
        f"@keras.saving.register_keras_serializable({package}): "
        "keep or restore it under that name (a renamed class can keep the old registered "
        "name with `name=`), and list its module under `model.custom_objects` if the "
        "builder does not import it",
    )
