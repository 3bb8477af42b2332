"""`.restore-gate.yml`: every problem names the key and its line, with a did-you-mean."""

from __future__ import annotations

from pathlib import Path

import pytest

from restore_gate.errors import GateError
from restore_gate.settings.config import load_config
from restore_gate.settings.sections import AllowSettings

VALID = """\
version: 1
model:
  builder: models.classifier:build_model
  paths: [src]
  args: {num_classes: 10}
checkpoint:
  path: release/model.tar.gz
  format: auto
  optimizer: required
evaluation:
  data: models.data:eval_data
  metrics: [accuracy, loss]
  batch_size: 256
thresholds:
  metrics:
    accuracy: {max_drop: 0.01}
    loss: {max_increase: "5%"}
  outputs: {atol: 1.0e-5, rtol: 1.0e-4}
allow:
  missing: ['^head/']
  unexpected: []
"""


def write(tmp_path: Path, text: str, name: str = ".restore-gate.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> GateError:
    with pytest.raises(GateError) as caught:
        load_config(write(tmp_path, text))
    assert caught.value.stage == "config"
    return caught.value


def test_the_spec_sketch_is_valid_and_read(tmp_path):
    config = load_config(write(tmp_path, VALID))
    assert config.model.builder == "models.classifier:build_model"
    assert config.model_paths == [tmp_path.resolve() / "src"]
    assert config.checkpoint.optimizer == "required"
    assert config.checkpoint.format == "auto"
    assert config.allow == AllowSettings(missing=("^head/",), unexpected=())
    assert config.thresholds["metrics"]["loss"] == {"max_increase": "5%"}


def test_defaults_for_a_minimal_config(tmp_path):
    config = load_config(write(tmp_path, "version: 1\nmodel:\n  builder: m:build\n"))
    assert config.checkpoint.optimizer == "optional"
    assert config.checkpoint.format == "auto"
    assert config.allow == AllowSettings(missing=(), unexpected=())
    assert config.model_paths == []


def test_unknown_top_level_key_names_line_and_suggestion(tmp_path):
    error = error_for(tmp_path, VALID.replace("allow:", "allwo:"))
    assert ".restore-gate.yml:19: unknown key 'allwo'" in error.message
    assert "did you mean 'allow'?" in error.message


def test_unknown_nested_key_names_its_dotted_path_and_line(tmp_path):
    error = error_for(tmp_path, VALID.replace("  format: auto", "  fromat: auto"))
    assert ":8: unknown key 'checkpoint.fromat'" in error.message
    assert "did you mean 'format'?" in error.message


def test_every_problem_is_reported_at_once(tmp_path):
    text = VALID.replace("  format: auto", "  fromat: auto").replace("allow:", "allwo:")
    error = error_for(tmp_path, text)
    assert "fromat" in error.message and "allwo" in error.message
    lines = error.message.splitlines()
    assert lines[0] == "invalid configuration:" and len(lines) == 3
    assert all(line.startswith("  - ") for line in lines[1:])


def test_wrong_type_names_key_and_line(tmp_path):
    error = error_for(tmp_path, VALID.replace("batch_size: 256", "batch_size: big"))
    assert ":13: 'evaluation.batch_size'" in error.message
    assert "'big' is not of type 'integer'" in error.message


def test_bad_enum_value_names_the_allowed_values(tmp_path):
    error = error_for(tmp_path, VALID.replace("optimizer: required", "optimizer: sometimes"))
    assert ":9: 'checkpoint.optimizer'" in error.message
    assert "required" in error.message and "ignore" in error.message


def test_builder_without_callable_is_rejected(tmp_path):
    error = error_for(tmp_path, VALID.replace("models.classifier:build_model", "models.classifier"))
    assert ":3: 'model.builder'" in error.message


def test_invalid_regex_in_allow_is_rejected(tmp_path):
    error = error_for(tmp_path, VALID.replace("'^head/'", "'(unclosed'"))
    assert "allow.missing.0" in error.message and ":20:" in error.message


def test_missing_required_keys(tmp_path):
    error = error_for(tmp_path, "version: 1\n")
    assert "'model' is a required property" in error.message


def test_invalid_yaml_names_the_line(tmp_path):
    error = error_for(tmp_path, "version: 1\nmodel:\n  builder: [unclosed\n")
    assert "invalid YAML" in error.message
    assert ".restore-gate.yml:" in error.message


def test_missing_config_file_says_how_to_create_one(tmp_path):
    with pytest.raises(GateError) as caught:
        load_config(tmp_path / ".restore-gate.yml")
    assert "not found" in caught.value.message and "--config" in caught.value.hint


def test_separate_threshold_file_is_read_and_validated(tmp_path):
    write(tmp_path, "metrics:\n  accuracy: {max_drop: 0.02}\n", "thresholds.yml")
    config = load_config(write(tmp_path, VALID.split("thresholds:")[0]
                               + "thresholds: thresholds.yml\n"))
    assert config.thresholds == {"metrics": {"accuracy": {"max_drop": 0.02}}}
    write(tmp_path, "metrics:\n  accuracy: {max_dorp: 0.02}\n", "thresholds.yml")
    with pytest.raises(GateError) as caught:
        load_config(tmp_path / ".restore-gate.yml")
    assert "thresholds.yml:2" in caught.value.message and "max_dorp" in caught.value.message
    assert "did you mean 'max_drop'?" in caught.value.message


def test_missing_threshold_file_is_named(tmp_path):
    with pytest.raises(GateError) as caught:
        load_config(write(tmp_path, VALID.split("thresholds:")[0] + "thresholds: nope.yml\n"))
    assert "nope.yml" in caught.value.message and "not found" in caught.value.message


def test_bad_nested_threshold_is_explained_not_just_one_of(tmp_path):
    error = error_for(tmp_path, VALID.replace('max_increase: "5%"', 'max_increase: "five"'))
    assert "thresholds.metrics.loss.max_increase" in error.message
    assert ":17:" in error.message


def test_threshold_on_a_metric_that_is_not_measured_is_a_config_error(tmp_path: Path) -> None:
    """`auc: {max_drop}` with `evaluation.metrics: [accuracy, loss]` could never pass (an
    unmeasured metric fails), so an unchanged model would fail: refused at load, with the line."""
    text = VALID.replace('    loss: {max_increase: "5%"}\n',
                         '    loss: {max_increase: "5%"}\n    auc: {max_drop: "1%"}\n')
    with pytest.raises(GateError) as caught:
        load_config(write(tmp_path, text))
    assert caught.value.stage == "config"
    assert (".restore-gate.yml:18: 'thresholds.metrics.auc': auc is not measured"
            in str(caught.value))
    assert "add auc to evaluation.metrics" in caught.value.hint


def test_threshold_file_on_an_unmeasured_metric_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "thresholds.yml").write_text("metrics:\n  auc: {max_drop: 0.01}\n")
    text = VALID.split("thresholds:\n")[0] + "thresholds: thresholds.yml\n"
    with pytest.raises(GateError, match=r"thresholds.yml:1: 'metrics.auc': auc is not measured"):
        load_config(write(tmp_path, text))


def test_thresholds_without_a_metric_list_measure_what_they_name(tmp_path: Path) -> None:
    text = VALID.replace("  metrics: [accuracy, loss]\n", "")
    config = load_config(write(tmp_path, text))
    assert set(config.thresholds["metrics"]) == {"accuracy", "loss"}


def test_a_dotted_builder_says_module_colon_callable(tmp_path: Path) -> None:
    text = VALID.replace("models.classifier:build_model", "models.classifier.build_model")
    with pytest.raises(GateError) as caught:
        load_config(write(tmp_path, text))
    message = str(caught.value)
    assert "'model.builder': 'models.classifier.build_model' is not module:callable" in message
    assert "did you mean 'models.classifier:build_model'?" in message
    assert "does not match" not in message  # no regular expression shown to the user


def test_a_config_under_a_near_name_is_suggested(tmp_path: Path) -> None:
    write(tmp_path, VALID, "restore-gate.yml")
    with pytest.raises(GateError) as caught:
        load_config(tmp_path / ".restore-gate.yml")
    assert f"{tmp_path / 'restore-gate.yml'} exists: did you mean --config" in str(caught.value)


def test_wrong_direction_keys_are_each_named_with_line_and_the_fitting_key(tmp_path):
    thresholds = ("thresholds:\n  metrics:\n    loss: {max_drop: 0.1}\n"
                  "    val_auc:\n      max_drop: 0.1\n      warn_increase: 0.2\n"
                  "    mae: {warn_drop: 1}\n")
    path = write(tmp_path, "version: 1\nmodel:\n  builder: m:build\n" + thresholds)
    error = error_for(tmp_path, path.read_text(encoding="utf-8"))
    assert error.message.splitlines() == [
        "invalid configuration:",
        f"  - {path}:6: 'thresholds.metrics.loss.max_drop': loss is a metric where lower is "
        "better, so max_drop would never trigger; did you mean 'max_increase'?",
        f"  - {path}:9: 'thresholds.metrics.val_auc.warn_increase': val_auc is a metric where "
        "higher is better, so warn_increase would never trigger; did you mean 'warn_drop'?",
        f"  - {path}:10: 'thresholds.metrics.mae.warn_drop': mae is a metric where lower is "
        "better, so warn_drop would never trigger; did you mean 'warn_increase'?",
    ]
    assert error.hint == (
        "use max_drop/warn_drop for metrics where higher is better (accuracy, auc, precision, "
        "recall, ...) and max_increase/warn_increase for the others (loss, errors)")


def test_a_wrong_direction_key_in_a_threshold_file_names_that_file(tmp_path):
    write(tmp_path, "metrics:\n  accuracy:\n    max_increase: 0.1\n", "limits.yml")
    error = error_for(tmp_path, "version: 1\nmodel:\n  builder: m:build\nthresholds: limits.yml\n")
    assert error.message.splitlines()[1] == (
        "  - limits.yml:3: 'metrics.accuracy.max_increase': accuracy is a metric where higher "
        "is better, so max_increase would never trigger; did you mean 'max_drop'?")
    write(tmp_path, "metrics:\n  accuracy: {max_drop: 0.1}\n", "limits.yml")
    config = load_config(tmp_path / ".restore-gate.yml")
    assert config.thresholds["metrics"]["accuracy"] == {"max_drop": 0.1}


@pytest.mark.parametrize("value, problem", [
    ("/etc/passwd", "is an absolute path"),
    ("C:/models", "is an absolute path"),
    ("C:models", "is an absolute path"),
    ("\\\\\\\\server\\\\share", "is an absolute path"),
    ("..", "leaves the repository"),
    ("../sibling", "leaves the repository"),
    ("src/../../x", "leaves the repository"),
    ("src\\\\..\\\\..\\\\x", "leaves the repository"),
    ("link/deeper", "resolves (through a symlink) to a place outside the repository"),
])
def test_config_paths_stay_inside_the_repository(tmp_path, value, problem):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "link").symlink_to(tmp_path)
    path = write(repo, f'version: 1\nmodel:\n  builder: m:build\n  paths:\n    - src\n'
                       f'    - "{value}"\n')
    with pytest.raises(GateError) as caught:
        load_config(path)
    assert caught.value.message.startswith(f"{path}:6: 'model.paths.1': ")
    assert problem in caught.value.message
    assert caught.value.hint == (
        f"name a path inside the repository, relative to its root ({repo.resolve()})")


def test_inside_paths_are_normalised(tmp_path):
    (tmp_path / "conf").mkdir()
    write(tmp_path, "metrics:\n  loss: {max_increase: 1}\n", "conf/t.yml")
    config = load_config(write(tmp_path, "version: 1\nmodel:\n  builder: m:build\n"
                                         "  paths: [./src/, 'a/../b']\n"
                                         "thresholds: ./conf/../conf/t.yml\n"))
    assert config.thresholds == {"metrics": {"loss": {"max_increase": 1}}}


def test_a_threshold_file_is_checked_against_the_thresholds_schema(tmp_path):
    write(tmp_path, "outputs: {atol: tiny}\nmetrics:\n  loss: {max_increase: 1}\n", "t.yml")
    error = error_for(tmp_path, "version: 1\nmodel:\n  builder: m:build\nthresholds: t.yml\n")
    assert error.message.splitlines()[0] == "invalid configuration:"
    assert error.message.splitlines()[1].startswith("  - t.yml:1: 'outputs.atol': ")
    assert error.hint == "fix the keys above; the README lists every key with an example"
    missing = error_for(tmp_path, "version: 1\nmodel:\n  builder: m:build\nthresholds: no.yml\n")
    assert missing.hint == (
        "fix the `thresholds:` path in the config (relative to the repository root)")


def test_threshold_changes_name_added_and_removed_keys():
    from restore_gate.settings.config import threshold_changes

    assert threshold_changes({"outputs": {"atol": 1}}, {"metrics": {"loss": {"max_increase": 2}}}
                             ) == ["thresholds.metrics.loss.max_increase (none) → 2",
                                   "thresholds.outputs.atol 1 → (none)"]
