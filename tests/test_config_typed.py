"""The frozen, typed `Config`: every schema key has a field, defaults are the documented ones,
nothing changes a Config in place (the base commit's settings give a new value), and the
GitHub client and publish options come from the edge."""

from __future__ import annotations

import copy
import dataclasses
import json
import typing
from pathlib import Path

import pytest
from github_stub import github_fixture  # noqa: F401  (the `github` fixture)
from test_fetch import bundle

from restore_gate.cli import parse, publish_options
from restore_gate.errors import GateError
from restore_gate.github import GitHub
from restore_gate.release.source import resolve
from restore_gate.schemas import load_schema
from restore_gate.settings.base import apply_base
from restore_gate.settings.config import load_config
from restore_gate.settings.sections import (
    AllowSettings,
    BaseDecision,
    BaselineSettings,
    CheckpointSettings,
    Config,
    EvaluationSettings,
    LimitsSettings,
    ModelSettings,
    PublishSettings,
)

MINIMAL = "version: 1\nmodel: {builder: 'models:build'}\n"
# settings whose value is a mapping the schema describes (not a section of their own)
MAPPINGS = {("thresholds",), ("checkpoint", "root"), ("model", "args"), ("baseline", "metrics")}


def write(folder: Path, text: str, name: str = ".restore-gate.yml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _dataclass_of(hint: object) -> type | None:
    """The dataclass in a field's type (`ReleaseSettings | None` → ReleaseSettings)."""
    for option in (hint, *typing.get_args(hint)):
        if dataclasses.is_dataclass(option):
            return option  # type: ignore[return-value]
    return None


def _walk(schema: dict, cls: type, where: tuple[str, ...]) -> list[str]:
    """Schema keys under `where` with no field of that name in `cls` (recursively)."""
    root = load_schema("config.schema.json")
    hints = typing.get_type_hints(cls)
    missing = []
    for key, sub in schema.get("properties", {}).items():
        if key not in hints:
            missing.append(".".join((*where, key)))
            continue
        if (*where, key) in MAPPINGS:
            continue
        options = [sub, *sub.get("oneOf", [])]
        options = [root["$defs"][o["$ref"].split("/")[-1]] if "$ref" in o else o for o in options]
        nested = next((o for o in options if "properties" in o), None)
        if nested is not None:
            inner = _dataclass_of(hints[key])
            assert inner is not None, f"{'.'.join((*where, key))} is not a typed section"
            missing += _walk(nested, inner, (*where, key))
    return missing


def test_every_schema_key_has_a_typed_field():
    assert _walk(load_schema("config.schema.json"), Config, ()) == []


def test_the_walk_notices_a_schema_key_without_a_field():
    schema = json.loads(json.dumps(load_schema("config.schema.json")))
    schema["properties"]["evaluation"]["properties"]["shuffle"] = {"type": "boolean"}
    schema["properties"]["checkpoint"]["properties"]["release"]["properties"]["mirror"] = {}
    assert _walk(schema, Config, ()) == ["checkpoint.release.mirror", "evaluation.shuffle"]


def test_a_minimal_config_has_the_documented_defaults(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config == Config(
        path=tmp_path / ".restore-gate.yml", root=tmp_path.resolve(),
        model=ModelSettings(builder="models:build", paths=(), args={}, custom_objects=(),
                            input_shape=None, strategy=None),
        version=1,
        checkpoint=CheckpointSettings(path=None, url=None, release=None, format="auto",
                                      optimizer="optional", root={}),
        evaluation=EvaluationSettings(data=None, metrics=(), batch_size=256, golden_samples=64),
        baseline=BaselineSettings(ref=None, metrics=None),
        thresholds={},
        allow=AllowSettings(missing=(), unexpected=()),
        limits=LimitsSettings(stage_seconds=600.0),
        publish=PublishSettings(override_label="restore-gate: allow-break", check_run=False),
    )


def test_written_values_reach_their_fields(tmp_path):
    config = load_config(write(tmp_path, MINIMAL + """\
checkpoint:
  release: {asset: 'model-*.tar.gz', tag: 'v*'}
  root: {model: net}
evaluation: {metrics: [accuracy], batch_size: 8, golden_samples: 4}
limits: {stage_seconds: 30}
publish: {override_label: ok-to-break, check_run: true}
"""))
    assert config.checkpoint.release.asset == "model-*.tar.gz"
    assert config.checkpoint.release.tag == "v*" and config.checkpoint.release.repository is None
    assert config.checkpoint.root == {"model": "net"}
    assert config.evaluation == EvaluationSettings(None, ("accuracy",), 8, 4)
    assert config.limits.stage_seconds == 30.0
    assert config.publish == PublishSettings("ok-to-break", True)


def test_a_config_is_frozen(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.thresholds = {"outputs": {"atol": 1.0}}  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.checkpoint.optimizer = "ignore"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.limits.stage_seconds = 1.0  # type: ignore[misc]


HEAD = MINIMAL + """\
evaluation: {batch_size: 8}
checkpoint: {path: release/model.tar.gz, optimizer: ignore}
allow: {missing: ['^head/']}
thresholds: {outputs: {atol: 0.5}}
"""
BASE = MINIMAL.replace("models:build", "models:old") + """\
checkpoint: {path: release/model.tar.gz}
baseline: {ref: v1}
thresholds: {outputs: {atol: 0.001}}
"""


def test_with_base_returns_a_new_config_and_leaves_the_original(tmp_path):
    head = load_config(write(tmp_path, HEAD))
    base = load_config(write(tmp_path, BASE, "base.yml"))
    before = copy.deepcopy(head)
    merged, decision = head.with_base(base, "abc123")
    assert head == before and head.written == before.written  # untouched
    assert (head.checkpoint.optimizer, head.allow.missing) == ("ignore", ("^head/",))
    # the base decides checkpoint, thresholds, allow, baseline; the branch keeps the rest
    assert merged.checkpoint == CheckpointSettings(path="release/model.tar.gz")
    assert merged.thresholds == {"outputs": {"atol": 0.001}}
    assert merged.allow == AllowSettings() and merged.baseline == BaselineSettings(ref="v1")
    assert merged.model.builder == "models:build" and merged.evaluation.batch_size == 8
    assert decision == BaseDecision("abc123", "base", (
        "checkpoint.optimizer (none) → ignore", "thresholds.outputs.atol 0.001 → 0.5",
        "allow.missing (none) → ['^head/']", "baseline.ref v1 → (none)"))
    assert decision.to_dict(2) == {"ref": "abc123", "applied": "base", "changes": [
        "checkpoint.optimizer (none) → ignore", "thresholds.outputs.atol 0.001 → 0.5"]}
    assert apply_base(head, base, "abc123") == (merged, decision)


def test_with_checkpoint_path_keeps_the_rest(tmp_path):
    head = load_config(write(tmp_path, HEAD))
    moved = head.with_checkpoint_path("/tmp/base/model.tar.gz")
    assert moved.checkpoint == dataclasses.replace(head.checkpoint, path="/tmp/base/model.tar.gz")
    assert head.checkpoint.path == "release/model.tar.gz"
    assert dataclasses.replace(moved, checkpoint=head.checkpoint) == head


def test_a_release_is_read_with_the_client_given(github, tmp_path, monkeypatch):
    """The client comes from the caller: with no token in the environment the release is
    still read with the one given, and without a client it is an error, not a pass."""
    github.add_release("v1.0", {"model-1.0.tar.gz": bundle()})
    config = load_config(write(tmp_path, MINIMAL + "checkpoint: {release: {asset: 'model-*'}}\n"))
    monkeypatch.delenv("GITHUB_TOKEN")
    work = tmp_path / "work"
    work.mkdir()
    source = resolve(None, config, work, lambda: GitHub(github.token, github.base_url))
    assert source.description == "octo/models v1.0: model-1.0.tar.gz"
    assert github.calls("GET", "/releases/assets/")[0].headers["Authorization"] == \
        f"Bearer {github.token}"
    with pytest.raises(GateError) as caught:
        resolve(None, config, work, None)
    assert caught.value.code == "no-github-client"


def test_publish_options_come_from_the_command_line(tmp_path):
    options = publish_options(parse([
        "publish", "a.json", "b.json", "--no-comment", "--check-run", "--pr", "7",
        "--repo", "o/r", "--comment-author", "bot", "--markdown", "c.md"]))
    assert options.reports == (Path("a.json"), Path("b.json"))
    assert (options.comment, options.check_run, options.pr) == (False, True, 7)
    assert (options.repo, options.comment_author, options.markdown) == ("o/r", "bot",
                                                                         Path("c.md"))
    assert publish_options(parse(["publish", "a.json"])).comment is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.comment = True  # type: ignore[misc]
