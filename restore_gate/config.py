"""Load `.restore-gate.yml` and validate it against the schema shipped in the package.

Every problem names the key, its line in the file, and what to write instead
(a did-you-mean for misspelt keys).
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from restore_gate.errors import GateError

if TYPE_CHECKING:
    import jsonschema

DEFAULT_CONFIG = ".restore-gate.yml"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in `restore_gate/schemas/`."""
    text = resources.files("restore_gate").joinpath("schemas", name).read_text("utf-8")
    return json.loads(text)


@dataclass
class Config:
    """The validated configuration, with defaults filled in."""

    path: Path
    root: Path
    data: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        return self.data.get(name) or {}

    @property
    def builder(self) -> str:
        return self.data["model"]["builder"]

    @property
    def model_paths(self) -> list[Path]:
        return [self.root / p for p in self.section("model").get("paths", [])]

    @property
    def checkpoint_format(self) -> str:
        return self.section("checkpoint").get("format", "auto")

    @property
    def optimizer_policy(self) -> str:
        return self.section("checkpoint").get("optimizer", "optional")

    @property
    def allow(self) -> dict[str, list[str]]:
        allow = self.section("allow")
        return {"missing": allow.get("missing", []), "unexpected": allow.get("unexpected", [])}

    @property
    def thresholds(self) -> dict[str, Any]:
        value = self.data.get("thresholds") or {}
        return value if isinstance(value, dict) else {}


def load_config(path: Path, root: Path | None = None) -> Config:
    """Read and validate a config file; raise `GateError(stage="config")` on any problem."""
    if not path.is_file():
        raise GateError(
            "config",
            f"config file {path} not found",
            f"create {DEFAULT_CONFIG} at the repository root (see the README) "
            "or pass --config PATH",
        )
    return parse_config(path.read_text(encoding="utf-8"), path, root or path.parent)


def parse_config(text: str, path: Path, root: Path) -> Config:
    """Validate config text (from the working tree or from a git ref)."""
    data, lines = parse_yaml(text, path)
    validate(data, lines, path, "config.schema.json")
    check_directions(data.get("thresholds"), lines, path, ("thresholds",))
    config = Config(path=path, root=root.resolve(), data=data)
    thresholds = data.get("thresholds")
    if isinstance(thresholds, str):
        config.data["thresholds"] = load_threshold_file(config.root / thresholds)
    return config


def load_threshold_file(path: Path) -> dict[str, Any]:
    """A separate threshold file named by `thresholds: path.yml`."""
    if not path.is_file():
        raise GateError(
            "config",
            f"threshold file {path} not found",
            "fix the `thresholds:` path in the config (relative to the repository root)",
        )
    data, lines = parse_yaml(path.read_text(encoding="utf-8"), path)
    validate(data, lines, path, "config.schema.json", pointer="#/$defs/thresholds")
    check_directions(data, lines, path, ())
    return data


def check_directions(thresholds: Any, lines: dict[tuple, int], path: Path,
                     prefix: tuple) -> None:
    """A metric threshold key must fit the metric's direction (`higher_is_better`, the rule
    the comparison uses): `loss: {max_drop}` would never trigger, so it is an error."""
    from restore_gate.drift import direction_keys, higher_is_better

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
        )


def parse_yaml(text: str, path: Path) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML safely; return the data and the line of every key path."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise GateError(
            "config", f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}",
            "fix the YAML syntax",
        ) from exc
    lines: dict[tuple, int] = {}
    if node is not None:
        _collect_lines(node, (), lines)
    return ({} if data is None else data), lines


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
            guess = difflib.get_close_matches(str(key), allowed, n=1)
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
    if error.validator == "format" and error.schema.get("format") == "finite":
        return (f"{path}:{line}: '{dotted}': {error.instance} is not a finite number (NaN and "
                "Inf switch the check off): write a number")
    return f"{path}:{line}: '{dotted}': {error.message}"


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
