"""The configuration as a frozen value: one typed section per top-level key of
`.restore-gate.yml`, one field per setting with its default beside it.

`settings/config.py` validates the YAML against config.schema.json and builds a `Config` with
`Config.from_data`; nothing changes it afterwards. The base commit's settings give a new value
(`Config.with_base`), never an edited one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from restore_gate.present.markdown import DEFAULT_OVERRIDE_LABEL

DEFAULT_STAGE_SECONDS = 600.0  # per stage; `--stage-timeout` / `limits.stage_seconds`
DEFAULT_GOLDEN_SAMPLES = 64  # `evaluation.golden_samples`
DEFAULT_BATCH_SIZE = 256  # `evaluation.batch_size`
# the sections the base commit decides with `check --base` (settings/base.py)
GATE_KEYS = ("checkpoint", "thresholds", "allow", "baseline")
MAX_VALUE_CHARS = 120  # of one value shown in a change line


@dataclass(frozen=True)
class StrategySettings:
    """`model.strategy`: a tf.distribute strategy kind, and the devices it spans."""

    type: str
    devices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ModelSettings:
    builder: str  # module:callable; required
    paths: tuple[str, ...] = ()  # folders put on sys.path, relative to the root
    args: Mapping[str, Any] = field(default_factory=dict)  # keyword arguments of the builder
    custom_objects: tuple[str, ...] = ()  # modules imported before the model is built
    input_shape: tuple[int | None, ...] | None = None  # builds an unbuilt model
    strategy: StrategySettings | None = None  # None: no strategy scope


@dataclass(frozen=True)
class ReleaseSettings:
    """`checkpoint.release`: which GitHub release asset is the release checkpoint."""

    asset: str | None = None  # a glob; required by the schema when `release:` is written
    tag: str | None = None  # a glob; None: the latest published release
    repository: str | None = None  # owner/name; None: GITHUB_REPOSITORY


@dataclass(frozen=True)
class CheckpointSettings:
    path: str | None = None
    url: str | None = None
    uri: str | None = None  # a release store: models:/, s3://, gs://, hf://
    endpoint: str | None = None  # an S3-compatible store's endpoint URL
    release: ReleaseSettings | None = None  # None: no `release:` written
    format: str = "auto"
    optimizer: str = "optional"  # required | optional | ignore
    root: Mapping[str, str] = field(default_factory=dict)  # tf.train.Checkpoint child names


@dataclass(frozen=True)
class EvaluationSettings:
    data: str | None = None  # module:callable giving (x, y) or a tf.data.Dataset
    metrics: tuple[str, ...] = ()  # empty: the metrics the thresholds name
    batch_size: int = DEFAULT_BATCH_SIZE
    golden_samples: int = DEFAULT_GOLDEN_SAMPLES


@dataclass(frozen=True)
class BaselineSettings:
    ref: str | None = None  # git ref of the release's code, for a bare checkpoint
    metrics: Mapping[str, float] | None = None  # recorded metric values


@dataclass(frozen=True)
class AllowSettings:
    missing: tuple[str, ...] = ()  # regexes of branch variables that may start fresh
    unexpected: tuple[str, ...] = ()  # regexes of release values that may be dropped


@dataclass(frozen=True)
class LimitsSettings:
    stage_seconds: float = DEFAULT_STAGE_SECONDS


@dataclass(frozen=True)
class PublishSettings:
    override_label: str = DEFAULT_OVERRIDE_LABEL
    check_run: bool = False


@dataclass(frozen=True)
class BaseDecision:
    """Whose settings decided (`check --base REF`): the base commit's, or the pull request's
    when the base commit has no config; and the pull request's changes to them."""

    ref: str
    applied: str  # "base" | "pull request"
    changes: tuple[str, ...] = ()

    def with_change(self, change: str) -> BaseDecision:
        return BaseDecision(self.ref, self.applied, (*self.changes, change))

    def to_dict(self, max_changes: int) -> dict[str, Any]:
        """The report's `extra["base"]`."""
        return {"ref": self.ref, "applied": self.applied,
                "changes": list(self.changes[:max_changes])}


@dataclass(frozen=True)
class Config:
    """The validated configuration, with defaults filled in."""

    path: Path
    root: Path
    model: ModelSettings
    version: int = 1
    checkpoint: CheckpointSettings = CheckpointSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    baseline: BaselineSettings = BaselineSettings()
    thresholds: Mapping[str, Any] = field(default_factory=dict)  # validated by the schema
    allow: AllowSettings = AllowSettings()
    limits: LimitsSettings = LimitsSettings()
    publish: PublishSettings = PublishSettings()
    # the validated mapping as written (defaults not filled in): the base commit's changes are
    # listed from it, "(none)" for a key the file does not write
    written: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_data(cls, path: Path, root: Path, data: Mapping[str, Any]) -> Config:
        """The typed value of schema-valid config data: each written key through its field's
        converter; a key not written keeps the field's default."""
        thresholds = data.get("thresholds") or {}
        sections = {name: _section(kind, data.get(name) or {})
                    for name, kind in SECTIONS.items() if name in data}
        return cls(path=path, root=root, **sections,
                   **({"version": data["version"]} if "version" in data else {}),
                   thresholds=thresholds if isinstance(thresholds, dict) else {}, written=data)

    @property
    def model_paths(self) -> list[Path]:
        return [self.root / p for p in self.model.paths]

    def rooted(self, path: Path, root: Path) -> Config:
        """The same settings for a copy of the repository (a worktree at another ref)."""
        return replace(self, path=path, root=root)

    def with_base(self, base: Config, ref: str) -> tuple[Config, BaseDecision]:
        """This config with the verdict-deciding sections (GATE_KEYS) taken from `base`, the
        base commit's; and the pull request's changes to them. `self` is left as it is."""
        changes = setting_changes(base.written, self.written)
        data = {k: v for k, v in self.written.items() if k not in GATE_KEYS}
        data.update({k: base.written[k] for k in GATE_KEYS if k in base.written})
        return (Config.from_data(self.path, self.root, data),
                BaseDecision(ref, "base", tuple(changes)))

    def with_checkpoint_path(self, path: str) -> Config:
        checkpoint = {**(self.written.get("checkpoint") or {}), "path": path}
        return Config.from_data(self.path, self.root, {**self.written, "checkpoint": checkpoint})


def _strategy(spec: Any) -> StrategySettings:
    if isinstance(spec, str):
        return StrategySettings(spec)
    devices = spec.get("devices")
    return StrategySettings(spec["type"], tuple(devices) if devices is not None else None)


def _section(kind: type, section: Mapping[str, Any]) -> Any:
    """`kind` from a written section, each key through its converter (default: as written)."""
    convert = CONVERTERS.get(kind, {})
    return kind(**{key: convert.get(key, _same)(value) for key, value in section.items()})


def _same(value: Any) -> Any:
    return value


SECTIONS: dict[str, type] = {
    "model": ModelSettings, "checkpoint": CheckpointSettings,
    "evaluation": EvaluationSettings, "baseline": BaselineSettings, "allow": AllowSettings,
    "limits": LimitsSettings, "publish": PublishSettings,
}
CONVERTERS: dict[type, dict[str, Callable[[Any], Any]]] = {
    ModelSettings: {"paths": tuple, "custom_objects": tuple, "input_shape": tuple,
                    "strategy": _strategy},
    CheckpointSettings: {"release": lambda value: ReleaseSettings(**value)},
    EvaluationSettings: {"metrics": tuple},
    AllowSettings: {"missing": tuple, "unexpected": tuple},
    LimitsSettings: {"stage_seconds": float},
}


def release_record(release: ReleaseSettings | None) -> dict[str, str]:
    """`checkpoint.release` as written (the keys set), e.g. for the prefetch record."""
    return {k: v for k, v in asdict(release).items() if v is not None} if release else {}


def setting_changes(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[str]:
    """Every verdict-deciding value the pull request changes ("allow.missing [] → ['^x']")."""
    changes = []
    for key in GATE_KEYS:
        before, after = _flatten(base.get(key), key), _flatten(head.get(key), key)
        for name in sorted(set(before) | set(after)):
            old, new = before.get(name, "(none)"), after.get(name, "(none)")
            if old != new and not (_empty(old) and _empty(new)):
                changes.append(f"{name} {_show(old)} → {_show(new)}")
    return changes


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not value:
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        flat.update(_flatten(item, f"{prefix}.{key}"))
    return flat


def _empty(value: Any) -> bool:
    return value in ("(none)", [], {})


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else f"{text[:MAX_VALUE_CHARS]}…"
