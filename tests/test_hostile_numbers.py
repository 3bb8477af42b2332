"""Hostile and broken input never passes (issue 9, items 1, 2, 4, 5 and 13): one test per attack.

Each test is an attack a pull request (or a clumsy user) can make; the release is a real tiny
Keras model snapshotted with `restore-gate snapshot`, and exit codes come from real CLI
subprocesses.

- NaN outputs, a NaN loss, NaN GPU outputs for the CPU-vs-GPU parity, `.nan`/`.inf` thresholds
  and bare `NaN` tokens in the report;
- `sys.exit`, `exit()`, `raise SystemExit`, `KeyboardInterrupt` and `GeneratorExit` raised by
  branch code (builder, data callable, custom objects, module import), in `check`, in
  `snapshot` and in the action's `check` mode;
- a report whose claimed verdict disagrees with its contents, given to `publish`;
- threshold keys of the wrong direction (`loss: {max_drop}`, `accuracy: {max_increase}`);
- `inspect` on a deeply nested or non-object `.keras` config and on an empty `saved_model.pb`,
  the token over plain http, and an unbounded `mismatches` step output.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from action_support import ENTRYPOINT, action_env, parse_outputs, run_action
from conftest import Project, save_release

MODEL = """\
import keras


def poisoned(t):
    # NaN for every sample but the lowest logit of the batch: part of the outputs whatever the
    # (unseeded) weights are, and no new weights or layers
    return keras.ops.where(t > keras.ops.min(t), float("nan"), keras.activations.sigmoid(t))


def build():
    {before}
    inputs = keras.Input((4,))
    x = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(1, activation={activation}, name="out")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model
"""

DATA = """\
import numpy as np


def eval_data():
    {before}
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 4)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("float32").reshape(-1, 1)


def nan_data():
    x, y = eval_data()
    y[100] = np.nan  # one label of the evaluation data: the loss becomes NaN
    return x, y
"""

CONFIG = """\
version: 1
model:
  builder: model:build
{model_keys}evaluation:
  data: {data}
  metrics: [loss]
thresholds:
  metrics:
    loss: {{max_increase: "5%"}}
"""


def write_branch(root: Path, poisoned: bool = False, data: str = "data:eval_data",
                 builder_line: str = "pass", data_line: str = "pass", model_keys: str = "",
                 head: str = "") -> Project:
    project = Project(root)
    activation = "poisoned" if poisoned else '"sigmoid"'
    project.write("model.py", head + MODEL.format(activation=activation, before=builder_line))
    project.write("data.py", DATA.format(before=data_line))
    project.write(".restore-gate.yml", CONFIG.format(data=data, model_keys=model_keys))
    return project


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release: the unpoisoned model, snapshotted with golden outputs and its loss."""
    from restore_gate.commands.snapshot import snapshot
    from restore_gate.runtime import describe_device
    from restore_gate.settings.config import load_config

    base = tmp_path_factory.mktemp("release")
    release = write_branch(base / "repo")
    prefix = save_release(release.build(), base / "ckpt", "tf")
    out = base / "model-1.0.tar.gz"
    snapshot(prefix, out, describe_device("cpu"), release.root,
             load_config(release.root / ".restore-gate.yml"))
    return out


def environment(**extra: str) -> dict[str, str]:
    """This process's environment without GitHub's variables (no token, no outputs file)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITHUB_", "GH_", "INPUT_", "RUNNER_"))}
    return {**env, "CUDA_VISIBLE_DEVICES": "-1", "TF_CPP_MIN_LOG_LEVEL": "2", **extra}


def cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "restore_gate", *args], cwd=cwd,
                          env=environment(**env), capture_output=True, text=True, timeout=300,
                          check=False)


def strict_json(text: str):
    """JSON as the standard defines it: bare NaN/Infinity tokens are refused."""
    def refuse(token: str):
        raise ValueError(f"not JSON: bare {token}")
    return json.loads(text, parse_constant=refuse)


def check(project: Project, bundle: Path) -> tuple[int, dict | None, str]:
    """`restore-gate check` in a subprocess: exit code, the report (read leniently), stderr."""
    report = project.root / "report.json"
    proc = cli("check", "--quiet", f"--checkpoint={bundle}", f"--report={report}",
               cwd=project.root)
    data = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else None
    return proc.returncode, data, proc.stderr


def config_error(project: Project, bundle: Path) -> tuple[int, str]:
    """`check`'s exit code and the message of its config error (empty if there is none)."""
    code, report, err = check(project, bundle)
    errors = [e["message"] for e in (report or {}).get("errors", []) if e["stage"] == "config"]
    return code, errors[0] if errors else err


@pytest.fixture(scope="module")
def passing(bundle, tmp_path_factory) -> tuple[Path, dict]:
    """The unchanged branch: its report passes (the baseline of the publish attacks)."""
    project = write_branch(tmp_path_factory.mktemp("passing") / "repo")
    code, report, err = check(project, bundle)
    assert code == 0 and report["verdict"] == "pass", err
    return project.root / "report.json", report


@pytest.fixture(scope="module")
def nan_outputs(bundle, tmp_path_factory) -> tuple[int, dict | None, Path]:
    project = write_branch(tmp_path_factory.mktemp("nan") / "repo", poisoned=True)
    code, report, _ = check(project, bundle)
    return code, report, project.root / "report.json"


# --- 1. NaN never passes ---------------------------------------------------------------------

def test_partly_nan_outputs_fail(nan_outputs):
    """Attack: the branch's outputs are NaN for part of the golden inputs (NaN > tol is False)."""
    code, report, _ = nan_outputs
    assert code == 1 and report["verdict"] == "fail"
    failing = [d for d in report["drift"] if d["kind"] == "output" and not d["ok"]]
    assert failing and "NaN" in failing[0]["note"]


def test_report_with_nan_values_is_strict_json(nan_outputs):
    """Attack: a NaN measurement is written as a bare `NaN` token, which is not JSON."""
    _, _, path = nan_outputs
    data = strict_json(path.read_text(encoding="utf-8"))
    output = next(d for d in data["drift"] if d["kind"] == "output")
    assert output["value"] == "NaN" and output["delta"] == "NaN"
    assert "NaN" in next(iter(data["extra"]["golden_outputs"].values()))


def test_nan_loss_fails(bundle, project):
    """Attack: one NaN label in the evaluation data makes the loss NaN (NaN > 5% is False)."""
    write_branch(project.root, data="data:nan_data")
    code, report, err = check(project, bundle)
    assert code == 1 and report["verdict"] == "fail", err
    loss = next(d for d in report["drift"] if d["name"] == "loss")
    assert not loss["ok"] and loss["value"] == "NaN" and "NaN" in loss["note"]


def test_nan_without_a_baseline_fails(project, tmp_path):
    """Attack: a bare checkpoint (no recorded outputs, no baseline): NaN outputs and a NaN loss
    were only "not measured", and the check passed."""
    write_branch(project.root)
    prefix = save_release(project.build(), tmp_path / "ckpt", "tf")
    write_branch(project.root, poisoned=True, data="data:nan_data")
    code, report, err = check(project, prefix)
    assert code == 1 and report["verdict"] == "fail", err
    assert {d["name"] for d in report["drift"] if not d["ok"]} == {"golden outputs", "loss"}


@pytest.mark.parametrize("encoding", ["NaN tokens", "strings"])
def test_nan_gpu_outputs_fail_cpu_gpu_parity(passing, tmp_path, encoding):
    """Attack: the GPU runner's golden outputs are all NaN; the CPU-vs-GPU parity passed."""
    path, cpu = passing
    gpu = json.loads(json.dumps(cpu))
    gpu["runner"].update(device="GPU", device_name="Fake GPU")
    nan = float("nan") if encoding == "NaN tokens" else "NaN"  # as `check` writes it now
    gpu["extra"]["golden_outputs"] = {k: [nan] * len(v)
                                      for k, v in cpu["extra"]["golden_outputs"].items()}
    (tmp_path / "gpu.json").write_text(json.dumps(gpu), encoding="utf-8")
    proc = cli("publish", "--no-comment", f"--markdown={tmp_path / 'comment.md'}", str(path),
               str(tmp_path / "gpu.json"), cwd=tmp_path)
    if encoding == "NaN tokens":  # not JSON: refused as an invalid report
        assert proc.returncode == 2 and "NaN" in proc.stderr, proc.stderr
    else:
        assert proc.returncode == 1, proc.stderr
        assert "CPU vs Fake GPU" in (tmp_path / "comment.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("section, key, line", [
    ("thresholds:\n  outputs: {atol: .nan}\n", "thresholds.outputs.atol", 7),
    ("thresholds:\n  devices:\n    rtol: .inf\n", "thresholds.devices.rtol", 8),
    ("thresholds:\n  metrics:\n    loss:\n      max_increase: .NaN\n",
     "thresholds.metrics.loss.max_increase", 9),
    ("baseline:\n  metrics: {loss: -.inf}\n", "baseline.metrics.loss", 7),
])
def test_nan_and_inf_thresholds_are_rejected(project, bundle, section, key, line):
    """Attack: `.nan` / `.inf` thresholds (YAML floats) switch the comparison off."""
    project.config("evaluation:\n  metrics: [loss]\n" + section)
    code, message = config_error(project, bundle)
    assert code == 2 and f".restore-gate.yml:{line}: '{key}'" in message, message
    assert "not a finite number" in message


# --- 2. Every BaseException from branch code is an error ---------------------------------------

def assert_error_report(code: int, report: dict | None, err: str, *names: str) -> None:
    assert code == 2, err
    assert report is not None and report["verdict"] == "error", err
    message = " ".join(e["message"] for e in report["errors"])
    for name in names:
        assert name in message, message


@pytest.mark.parametrize("statement, raised", [
    ("import sys; sys.exit(0)", "SystemExit(0)"),
    ("import sys; sys.exit()", "SystemExit"),
    ("exit()", "SystemExit"),
    ("raise SystemExit", "SystemExit"),
    ("raise KeyboardInterrupt", "KeyboardInterrupt"),
    ("raise GeneratorExit", "GeneratorExit"),
])
def test_exit_in_the_builder_is_an_error(bundle, project, statement, raised):
    """Attack: the builder calls sys.exit(0) (or exit(), raise SystemExit, ...): exit 0, no
    report."""
    write_branch(project.root, builder_line=statement)
    assert_error_report(*check(project, bundle), "model:build", raised)


def test_exit_in_the_data_callable_is_an_error(bundle, project):
    """Attack: the evaluation data callable calls sys.exit(0)."""
    write_branch(project.root, data_line="import sys; sys.exit(0)")
    assert_error_report(*check(project, bundle), "data:eval_data", "SystemExit(0)")


def test_exit_while_importing_the_builder_module_is_an_error(bundle, project):
    """Attack: the builder's module calls sys.exit(0) when it is imported."""
    write_branch(project.root, head="import sys\nsys.exit(0)\n")
    assert_error_report(*check(project, bundle), "model", "SystemExit(0)")


def test_exit_in_a_custom_objects_module_is_an_error(bundle, project):
    """Attack: a `model.custom_objects` module calls sys.exit(0) when it is imported."""
    write_branch(project.root, model_keys="  custom_objects: [layers_x]\n")
    project.write("layers_x.py", "raise SystemExit(0)\n")
    assert_error_report(*check(project, bundle), "layers_x", "SystemExit(0)")


def test_exit_in_the_builder_during_snapshot_is_an_error(project, tmp_path):
    """Attack: `snapshot` runs the builder, which calls sys.exit(0): exit 0, and no bundle."""
    write_branch(project.root)
    prefix = save_release(project.build(), tmp_path / "ckpt", "tf")
    write_branch(project.root, builder_line="import sys; sys.exit(0)")
    out = tmp_path / "bundle.tar.gz"
    proc = cli("snapshot", f"--checkpoint={prefix}", f"--out={out}", cwd=project.root)
    assert proc.returncode == 2 and not out.exists(), proc.stderr
    assert "model:build" in proc.stderr and "SystemExit(0)" in proc.stderr


def test_action_check_mode_outputs_error_for_sys_exit(bundle, project, tmp_path):
    """Attack: in the action's `check` mode, a builder calling sys.exit(0) gave verdict=pass."""
    write_branch(project.root, builder_line="import sys; sys.exit(0)")
    env = action_env(project.root, tmp_path / "runner",
                     {"mode": "check", "checkpoint": str(bundle)}, token="")
    run = run_action(project.root, env, timeout=300)
    assert run.returncode == 2 and run.outputs["verdict"] == "error", run.log
    report = json.loads((project.root / "restore-gate-report.json").read_text("utf-8"))
    assert report["verdict"] == "error"


# --- 4. publish re-judges every report -------------------------------------------------------

def blocking_mismatch(report: dict) -> None:
    report["mismatches"].append({
        "kind": "shape", "name": "hidden/kernel", "layer": "hidden", "key": "",
        "checkpoint": {"shape": [4, 8], "dtype": "float32"},
        "model": {"shape": [4, 16], "dtype": "float32"}, "allowed": False, "hint": "",
        "source": None, "checkpoint_name": None})


def failing_drift(report: dict) -> None:
    report["drift"][0]["ok"] = False
    report["drift"][0]["level"] = "fail"


def nan_marked_ok(report: dict) -> None:
    report["drift"][0].update(value="NaN", delta="NaN", ok=True)


def lost_optimizer(report: dict) -> None:
    report["optimizer"] = {"status": "lost", "policy": "required", "ok": False}


def an_error(report: dict) -> None:
    report["errors"].append({"stage": "build", "message": "the builder crashed", "hint": ""})


@pytest.mark.parametrize("tamper, claimed, actual", [
    (blocking_mismatch, "pass", "fail"), (failing_drift, "pass", "fail"),
    (nan_marked_ok, "pass", "fail"),
    (lost_optimizer, "pass", "fail"), (an_error, "pass", "error"), (an_error, "fail", "error"),
])
def test_publish_rejects_a_report_whose_verdict_disagrees_with_its_contents(
        passing, tmp_path, tamper, claimed, actual):
    """Attack: a schema-valid report says `pass` (or `fail`) over a blocking mismatch, failing
    drift, a NaN marked ok, a lost optimizer or an error; publish posted "pass"."""
    report = json.loads(json.dumps(passing[1]))
    tamper(report)
    report["verdict"] = claimed
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    comment = tmp_path / "comment.md"
    proc = cli("publish", "--no-comment", f"--markdown={comment}", str(path), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert str(path) in proc.stderr and f"claims {claimed}" in proc.stderr
    assert f"contents give {actual}" in proc.stderr
    assert not comment.exists()


# --- 5. Wrong-direction threshold keys --------------------------------------------------------

@pytest.mark.parametrize("metric, key, fits", [
    ("loss", "max_drop", "max_increase"), ("accuracy", "max_increase", "max_drop"),
    ("val_loss", "warn_drop", "warn_increase"), ("top_k_accuracy", "warn_increase", "warn_drop"),
])
def test_wrong_direction_threshold_keys_are_rejected(project, bundle, metric, key, fits):
    """Attack: `loss: {max_drop: ...}` checks nothing (a loss can only get worse upwards)."""
    project.config(f"thresholds:\n  metrics:\n    {metric}:\n      {key}: 0.01\n")
    code, message = config_error(project, bundle)
    assert code == 2 and f".restore-gate.yml:7: 'thresholds.metrics.{metric}.{key}'" in message
    assert f"did you mean '{fits}'" in message


def test_wrong_direction_key_in_a_threshold_file_is_rejected(project, bundle):
    """Attack: the same wrong-direction key, in a separate threshold file."""
    project.config("thresholds: gate/thresholds.yml\n")
    project.write("gate/thresholds.yml", "metrics:\n  loss: {max_drop: 0.5}\n")
    code, message = config_error(project, bundle)
    assert code == 2 and "thresholds.yml:2: 'metrics.loss.max_drop'" in message, message
    assert "did you mean 'max_increase'" in message


# --- 13. Smaller holes --------------------------------------------------------------------------

def rewrite_keras_config(source: Path, target: Path, config: str) -> Path:
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as out:
        for name in original.namelist():
            out.writestr(name, config if name == "config.json" else original.read(name))
    return target


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory) -> Path:
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="dense")])
    return save_release(model, tmp_path_factory.mktemp("keras"), "keras")


@pytest.mark.parametrize("name, config, says", [
    ("deep.keras", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("list.keras", "[1, 2]", "not a JSON object"),
    ("text.keras", '"model"', "not a JSON object"),
], ids=["nested", "array", "string"])
def test_inspect_refuses_a_keras_config_that_is_not_an_object(keras_file, tmp_path, name,
                                                              config, says):
    """Attack: a `.keras` whose config.json nests 100k arrays (RecursionError: exit 1) or is
    not an object (accepted, exit 0)."""
    target = rewrite_keras_config(keras_file, tmp_path / name, config)
    proc = cli("inspect", str(target), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert f"config.json in {target}" in proc.stderr and says in proc.stderr
    assert "Traceback" not in proc.stderr


def test_inspect_of_an_empty_saved_model_pb_exits_2(tmp_path):
    """Attack: an empty `saved_model.pb` was listed as a SavedModel with 0 values (exit 0)."""
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(b"")
    for args in ([str(folder)], ["--json", str(folder)]):
        proc = cli("inspect", *args, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert "saved_model.pb is empty (0 bytes)" in proc.stderr


@pytest.mark.parametrize("url", ["http://api.example.invalid", "http://127.0.0.1:9"])
def test_token_over_plain_http_warns(capsys, url):
    """Attack: GITHUB_API_URL=http://... sends the token in clear text without a word."""
    from restore_gate.github.client import GitHub

    GitHub("ghp_secret_value", url)
    err = capsys.readouterr().err
    assert "warning" in err and "plain http" in err and "ghp_secret_value" not in err
    GitHub("ghp_secret_value", "https://api.github.com")
    GitHub(None, url)  # no token, nothing to leak
    assert capsys.readouterr().err == ""


def test_mismatches_step_output_is_bounded(passing, tmp_path):
    """Attack: 100k mismatches made a 17.8 MB `mismatches` output (GitHub's limit: 1 MB); 10k
    (about 1 MB of lines) keep the schema validation of the report fast."""
    report = json.loads(json.dumps(passing[1]))
    for i in range(10_000):
        report["mismatches"].append({
            "kind": "unexpected", "name": f"layer_{i}/kernel_with_a_long_name", "layer": "x",
            "allowed": False, "hint": "", "checkpoint": {"shape": [4, 8], "dtype": "float32"}})
    report["verdict"] = "fail"
    path = tmp_path / "many.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    output = tmp_path / "github_output"
    output.write_text("")
    proc = cli("publish", "--no-comment", str(path), cwd=tmp_path, GITHUB_OUTPUT=str(output))
    assert proc.returncode == 1, proc.stderr
    value = parse_outputs(output.read_text(encoding="utf-8"))["mismatches"]
    assert len(value.encode("utf-8")) <= 64 * 1024
    shown = value.count("\n")
    assert value.splitlines()[-1] == f"… and {10_000 - shown} more"
    assert value.startswith("unexpected layer_0/kernel_with_a_long_name")
    # the action's `check` mode writes the same output from the report
    spec = importlib.util.spec_from_file_location("action_entrypoint", ENTRYPOINT)
    entrypoint = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = entrypoint  # dataclasses look their module up there
    spec.loader.exec_module(entrypoint)
    assert entrypoint.report_outputs(str(path), report)["mismatches"] == value

