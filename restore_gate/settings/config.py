"""Load `.restore-gate.yml` and validate it against the schema shipped in the package.

Every problem names the key, its line in the file, and what to write instead
(a did-you-mean for misspelt keys).
"""

from __future__ import annotations

import difflib
import math
import os
import posixpath
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

import yaml

from restore_gate.core.metrics import direction_keys, higher_is_better
from restore_gate.errors import GateError
from restore_gate.limits import MAX_CONFIG_BYTES
from restore_gate.schemas import load_schema
from restore_gate.settings.sections import DEFAULT_STAGE_SECONDS, Config

if TYPE_CHECKING:
    import jsonschema

DEFAULT_CONFIG = ".restore-gate.yml"

__all__ = ["DEFAULT_CONFIG", "DEFAULT_STAGE_SECONDS", "Config", "load_config", "parse_config"]


# A reader of repository files by root-relative POSIX path (None: no such file): the working
# tree by default, the base commit's tree (via git) for `--base`.
Reader = Callable[[str], "str | None"]


def load_config(path: Path, root: Path | None = None) -> Config:
    """Read and validate a config file; raise `GateError(stage="config")` on any problem."""
    if not path.is_file():
        near = [p.name for p in _near_names(path) if p.is_file()]
        raise GateError(
            "config",
            f"config file {path} not found"
            + (f"; {path.parent / near[0]} exists: did you mean --config "
               f"{path.parent / near[0]}, or to rename it to {path.name}?" if near else ""),
            f"create {DEFAULT_CONFIG} at the repository root (see the README) "
            "or pass --config PATH",
        )
    return parse_config(read_text(path), path, root or path.parent)


def _near_names(path: Path) -> list[Path]:
    """Files a user may have meant: the name without its leading dot, .yaml for .yml."""
    stem = path.name.lstrip(".")
    names = [f".{stem}", stem]
    for name in list(names):
        if name.endswith(".yml"):
            names.append(name[:-4] + ".yaml")
        elif name.endswith(".yaml"):
            names.append(name[:-5] + ".yml")
    return [path.parent / n for n in dict.fromkeys(names) if n != path.name]


def parse_config(text: str, path: Path, root: Path, read: Reader | None = None,
                 label: str = "") -> Config:
    """Validate config text (from the working tree or from a git ref). `read` fetches the
    threshold file it names (default: from the working tree under `root`); `label` prefixes
    its name in messages (e.g. the base commit)."""
    data, lines = parse_yaml(text, path)
    validate(data, lines, path, "config.schema.json")
    check_directions(data.get("thresholds"), lines, path, ("thresholds",))
    config = Config.from_data(path, root.resolve(), data)
    seconds = config.limits.stage_seconds
    if not math.isfinite(seconds):
        raise GateError("config", f"{path}:{lines.get(('limits', 'stage_seconds'), 1)}: "
                        f"'limits.stage_seconds': {seconds} is not a number of seconds",
                        "write a finite number of seconds, e.g. 600")
    for index, entry in enumerate(config.model.paths):
        inside(config.root, entry, ("model", "paths", index), path, lines)
    thresholds = data.get("thresholds")
    if isinstance(thresholds, str):  # the file it names replaces the name in the value
        relative = inside(config.root, thresholds, ("thresholds",), path, lines)
        loaded = load_threshold_file(
            relative, read or working_tree(config.root),
            f"{path}:{lines.get(('thresholds',), 1)}", Path(f"{label}{relative}"))
        config = Config.from_data(path, config.root, {**data, "thresholds": loaded})
        check_measured(config, {}, Path(f"{label}{relative}"), ())
    else:
        check_measured(config, lines, path, ("thresholds",))
    return config


def check_measured(config: Config, lines: dict[tuple, int], path: Path, prefix: tuple) -> None:
    """A metric threshold needs the metric measured: with `evaluation.metrics` listed, a
    threshold on another metric could never pass (a metric that is not computed fails), so an
    unchanged model would fail. Refuse it here, before TensorFlow is imported."""
    listed = config.evaluation.metrics
    if not listed:
        return  # no list: the gate measures the metrics the thresholds name
    unmeasured = [name for name in (config.thresholds.get("metrics") or {}) if name not in listed]
    if unmeasured:
        where = [f"{path}:{lines.get((*prefix, 'metrics', name), lines.get(prefix, 1))}: "
                 f"'{'.'.join(map(str, (*prefix, 'metrics', name)))}'" for name in unmeasured]
        raise GateError(
            "config",
            "invalid configuration:\n" + "\n".join(
                f"  - {w}: {name} is not measured (evaluation.metrics is {list(listed)})"
                for w, name in zip(where, unmeasured, strict=True)),
            f"add {', '.join(unmeasured)} to evaluation.metrics, or remove the threshold",
        )


def inside(root: Path, value: str, key: tuple, path: Path, lines: dict[tuple, int]) -> str:
    """A path from the config, relative to the repository root and staying inside it (no
    absolute path, no `..` out, no symlink out); return it as a normalised POSIX path."""
    dotted = ".".join(map(str, key))
    where = f"{path}:{lines.get(key, 1)}: '{dotted}'"
    hint = f"name a path inside the repository, relative to its root ({root})"
    if PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute() \
            or PureWindowsPath(value).drive:
        raise GateError("config", f"{where}: {value!r} is an absolute path", hint,
                        code="path-outside-repository")
    relative = posixpath.normpath(value.replace("\\", "/"))
    if relative == ".." or relative.startswith("../"):
        raise GateError("config", f"{where}: {value!r} leaves the repository", hint,
                        code="path-outside-repository")
    if not (root / relative).resolve().is_relative_to(root.resolve()):
        raise GateError("config", f"{where}: {value!r} resolves (through a symlink) to a "
                        "place outside the repository", hint, code="path-outside-repository")
    return relative


def working_tree(root: Path) -> Reader:
    def read(relative: str) -> str | None:
        path = root / relative
        return read_text(path) if path.is_file() else None
    return read


def read_text(path: Path) -> str:
    """A config or threshold file's text, refusing one over the size limit unread, and a
    symlink: with `--base` the base commit's file is looked up by this path, and a link would
    make the pull request's file decide under another name."""
    if path.is_symlink():
        raise GateError("config", f"{path} is a symlink (to {os.readlink(path)!r}); the gate "
                        "reads its config and threshold file by their own paths, not through "
                        "links", "commit the file itself in place of the link, or name the real "
                        "file (--config / the action's `config:` input, or `thresholds:`)")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise GateError("config", f"{path} is {size} bytes, over the limit of "
                        f"{MAX_CONFIG_BYTES}", "a config or threshold file is a few lines of "
                        "YAML: check that the path names the right file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise GateError("config", f"{path} is not UTF-8 text",
                        "name a YAML file (UTF-8)") from None


def load_threshold_file(relative: str, read: Reader, named_at: str, path: Path) -> dict[str, Any]:
    """A separate threshold file named by `thresholds: path.yml` (at `named_at`), shown as
    `path` in messages."""
    text = read(relative)
    if text is None:
        raise GateError(
            "config",
            f"{named_at}: threshold file {relative} not found",
            "fix the `thresholds:` path in the config (relative to the repository root)",
            code="threshold-file-missing",
        )
    data, lines = parse_yaml(text, path)
    validate(data, lines, path, "config.schema.json", pointer="#/$defs/thresholds")
    check_directions(data, lines, path, ())
    return data


def check_directions(thresholds: Any, lines: dict[tuple, int], path: Path,
                     prefix: tuple) -> None:
    """A metric threshold key must fit the metric's direction (`higher_is_better`, the rule
    the comparison uses): `loss: {max_drop}` would never trigger, so it is an error."""
    metrics = thresholds.get("metrics") if isinstance(thresholds, dict) else None
    problems = []
    for name, rule in (metrics or {}).items():
        fits = direction_keys(str(name))
        for key in rule or {}:
            if key in fits:
                continue
            where = (*prefix, "metrics", name, key)
            better = "higher" if higher_is_better(str(name)) else "lower"
            fitting = fits[0] if key.startswith("max_") else fits[1]
            problems.append(
                f"{path}:{lines.get(where, lines.get(prefix, 1))}: '{'.'.join(map(str, where))}'"
                f": {name} is a metric where {better} is better, so {key} would never "
                f"trigger; did you mean '{fitting}'?"
            )
    if problems:
        raise GateError(
            "config",
            "invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems),
            "use max_drop/warn_drop for metrics where higher is better (accuracy, auc, "
            "precision, recall, ...) and max_increase/warn_increase for the others (loss, "
            "errors)",
            code="threshold-direction",
        )


def parse_yaml(text: str, path: Path) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML safely; return the data and the line of every key path.

    Anchors and aliases are refused (an alias bomb expands a few lines into gigabytes), and
    an error shows the line and the parser's reason, never the file's text.
    """
    if len(text) > MAX_CONFIG_BYTES:
        raise GateError("config", f"{path} holds {len(text)} characters, over the limit of "
                        f"{MAX_CONFIG_BYTES}", "a config or threshold file is a few lines of "
                        "YAML: check that the path names the right file")
    try:
        _refuse_aliases(text, path)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = _QUOTED.sub("'…'", str(getattr(exc, "problem", None) or type(exc).__name__))
        raise GateError(
            "config", f"{where}: invalid YAML: {problem}",
            "fix the YAML syntax (and check that the path names a YAML file)",
        ) from None
    lines: dict[tuple, int] = {}
    if node is not None:
        _collect_lines(node, (), lines)
    return ({} if data is None else data), lines


# quoted text in a YAML error that is not a token kind ('<stream end>') nor one character
_QUOTED = re.compile(r"'(?!<)[^']{3,}'")


def _refuse_aliases(text: str, path: Path) -> None:
    """Refuse `&anchor` and `*alias` (read from the event stream: nothing is expanded)."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise GateError(
                "config",
                f"{path}:{event.start_mark.line + 1}: YAML anchors and aliases (&name, *name, "
                "<<: *name) are not allowed",
                "write the values out in full: aliases can expand a few lines into gigabytes",
            )


def _collect_lines(node: yaml.Node, prefix: tuple, lines: dict[tuple, int]) -> None:
    lines[prefix] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, key.value)
            lines[path] = key.start_mark.line + 1
            _collect_lines(value, path, lines)
            lines[path] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_lines(item, (*prefix, index), lines)


def validate(
    data: Any, lines: dict[tuple, int], path: Path, schema_name: str, pointer: str = "#"
) -> None:
    """Validate against a shipped schema; report every error with its key and line."""
    import jsonschema  # lazily: `inspect` and `render` never validate a config

    schema = load_schema(schema_name)
    if pointer != "#":
        schema = {**schema, "$ref": pointer}
        schema.pop("required", None)
        schema.pop("properties", None)
        schema.pop("additionalProperties", None)
        schema.pop("type", None)
    validator = jsonschema.Draft202012Validator(schema, format_checker=_format_checker())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return
    messages = [_describe(error, lines, path) for error in errors]
    raise GateError(
        "config",
        "invalid configuration:\n" + "\n".join(f"  - {m}" for m in messages),
        "fix the keys above; the README lists every key with an example",
        code="config-invalid",
    )


@cache
def _format_checker() -> jsonschema.FormatChecker:
    """The draft's formats plus `finite`: a number that is not NaN or Inf."""
    import jsonschema

    checker = jsonschema.FormatChecker(formats=())
    checker.checkers = dict(jsonschema.Draft202012Validator.FORMAT_CHECKER.checkers)
    checker.checks("finite")(lambda value: not isinstance(value, float) or math.isfinite(value))
    return checker


def _describe(error: jsonschema.ValidationError, lines: dict[tuple, int], path: Path) -> str:
    import jsonschema

    location = tuple(error.absolute_path)
    dotted = ".".join(map(str, location)) or "(top level)"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = [k for k in error.instance if k not in allowed]
        parts = []
        for key in unknown:
            line = lines.get((*location, key), lines.get(location, 1))
            key = str(key) if len(str(key)) <= 40 else f"{str(key)[:40]}…"
            guess = difflib.get_close_matches(key, allowed, n=1)
            suggestion = f"; did you mean '{guess[0]}'?" if guess else ""
            where = f"{dotted}." if location else ""
            parts.append(
                f"{path}:{line}: unknown key '{where}{key}'{suggestion} "
                f"(allowed here: {', '.join(allowed)})"
            )
        return "\n  - ".join(parts)
    if error.validator == "oneOf" and location and location[-1] == "thresholds":
        # a dict that failed the threshold schema: show the nested reason
        # skip the string branch's "is not of type 'string'": the dict branch says what is wrong
        nested = [e for e in error.context if e.relative_path or e.validator != "type"]
        best = jsonschema.exceptions.best_match(nested)
        if best is not None and isinstance(error.instance, dict):
            best_path = tuple(best.absolute_path)  # best_match may descend into nested oneOfs
            fake = jsonschema.ValidationError(
                best.message, validator=best.validator, path=best_path, instance=best.instance,
                schema=best.schema,
            )
            return _describe(fake, lines, path)
    line = lines.get(location, 1)
    if error.validator == "pattern" and "callable" in error.schema.get("$comment", ""):
        return f"{path}:{line}: '{dotted}': {_callable_message(error.instance)}"
    if error.validator == "format" and error.schema.get("format") == "finite":
        return (f"{path}:{line}: '{dotted}': {error.instance} is not a finite number (NaN and "
                "Inf switch the check off): write a number")
    return f"{path}:{line}: '{dotted}': {_message(error)}"


def _callable_message(value: Any) -> str:
    """`module:callable` expected: say so, with the likely intended spelling."""
    text = str(value)
    shown = repr(text) if len(text) <= 80 and "\n" not in text else "the value"
    guess = ""
    if ":" not in text and "." in text:
        module, _, name = text.rpartition(".")
        guess = f"; did you mean '{module}:{name}'?"[: 120]
    return (f"{shown} is not module:callable (a module path, a colon, then the function's "
            f"name, e.g. models.classifier:build_model){guess}")


def _message(error: jsonschema.ValidationError) -> str:
    """jsonschema's message, with the value received shown only when it is a short scalar
    under a key: a file that is not a config (a key file, a `.env`) is never echoed."""
    value = error.instance
    shown = repr(value)
    short = isinstance(value, (bool, int, float, type(None))) or (
        isinstance(value, str) and len(value) <= 40 and "\n" not in value)
    if error.absolute_path and short:
        return error.message
    kind = {dict: "a mapping", list: "a list", str: "a string"}.get(type(value), "the value")
    return error.message.replace(shown, kind)[:300]


def threshold_changes(base: dict[str, Any], head: dict[str, Any]) -> list[str]:
    """Human lines for every threshold the pull request changes ("a.b 0.01 → 0.2")."""
    before, after = _flatten(base), _flatten(head)
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key, "(none)"), after.get(key, "(none)")
        if old != new:
            changes.append(f"thresholds.{key} {old} → {new}")
    return changes


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(value, dict):
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat
