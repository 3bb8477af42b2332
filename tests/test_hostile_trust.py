"""Hostile input, trust: the base commit decides the gate, and nothing leaves its folder.

One test per attack, each on a real git repository (the pull request's base commit, then the
pull request's edits in the working tree), real checkpoints and the real CLI where the exit
code matters.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import Project, functional_model, save_release
from github_stub import github_fixture  # noqa: F401  (the `github` fixture)

from restore_gate.errors import GateError
from restore_gate.github import GitHub
from restore_gate.pipeline.check import NO_BASE, CheckOptions, run_check
from restore_gate.settings.config import load_config

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DATA = """
import numpy as np


def eval_data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 3, size=64)
"""

STRICT = "outputs: {atol: 1.0e-5, rtol: 1.0e-4}\n"
LOOSE = "outputs: {atol: 100.0, rtol: 100.0}\n"
EVALUATION = "evaluation: {data: data:eval_data, metrics: [loss]}\n"


def git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(root), "-c", "user.email=t@t", "-c", "user.name=t", *args],
        check=True, capture_output=True, text=True)
    return result.stdout.strip()


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """The release: a bundle with golden outputs, a bare .weights.h5, a TF checkpoint with
    Adam's slots; all of the same weights."""
    import tensorflow as tf

    from restore_gate.commands.snapshot import snapshot
    from restore_gate.runtime import describe_device

    root = tmp_path_factory.mktemp("trust")
    project = Project(root / "release-repo")
    project.write("model.py", functional_model())
    project.write("data.py", DATA)
    config = project.config(EVALUATION)
    model = project.build()
    folder = root / "release"
    weights = save_release(model, folder, "h5")
    model.optimizer.build(model.trainable_variables)
    tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(str(folder / "tf" / "ckpt"))
    snapshot(weights, folder / "model.tar.gz", describe_device("cpu"), project.root,
             load_config(config))
    return folder


class Repo(Project):
    """A git repository whose HEAD is the pull request's base; edits are the pull request."""

    def commit(self) -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-qm", "base")
        return git(self.root, "rev-parse", "HEAD")

    def check(self, *args: str, base: str | None = None, cli: bool = False
              ) -> tuple[int, dict]:
        """Exit code and report of `check`: the real CLI in a subprocess, or `run_check`
        in this process (same pipeline, the exit code from the verdict, seconds faster)."""
        if not cli:
            from restore_gate.core.report import exit_code

            found = run_check(CheckOptions(self.root / ".restore-gate.yml", quiet=True,
                                           base=base, github=GitHub.from_env)).to_dict()
            return exit_code(found["verdict"]), json.loads(json.dumps(found))
        report = self.root.parent / "report.json"
        argv = [sys.executable, "-m", "restore_gate", "check", "--quiet",
                f"--config={self.root / '.restore-gate.yml'}", f"--report={report}", *args]
        if base:
            argv.append(f"--base={base}")
        result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        assert report.is_file(), result.stderr[-2000:]
        return result.returncode, json.loads(report.read_text())


def repository(tmp_path: Path, released: Path, config: str, **files: str) -> Repo:
    repo = Repo(tmp_path / "repo")
    shutil.copytree(released, repo.root / "release")
    repo.write("model.py", functional_model())
    repo.write("data.py", DATA)
    for name, text in files.items():
        repo.write(name, text)
    repo.config(config)
    git(repo.root, "init", "-q")
    return repo


# --- item 3: the base commit decides -------------------------------------------------------

def test_a_loosened_threshold_file_does_not_apply(tmp_path, released):
    """Attack: the pull request changes the model's behaviour and loosens `thresholds.yml`
    (read from the working tree, it used to pass silently)."""
    repo = repository(tmp_path, released, "checkpoint: {path: release/model.tar.gz}\n"
                      + EVALUATION + "thresholds: thresholds.yml\n", **{"thresholds.yml": STRICT})
    base = repo.commit()
    repo.write("model.py", functional_model().replace('activation="relu"', 'activation="tanh"'))
    repo.write("thresholds.yml", LOOSE)
    code, report = repo.check(base=base, cli=True)
    assert code == 1 and report["verdict"] == "fail"
    assert any(d["kind"] == "output" and not d["ok"] for d in report["drift"])
    assert "thresholds.outputs.atol 1e-05 → 100.0" in report["extra"]["base"]["changes"]
    assert any("thresholds.outputs.atol 1e-05 → 100.0" in n for n in report["notices"])


def test_the_threshold_file_is_read_from_the_base_commit_even_when_the_pr_deletes_it(
        tmp_path, released):
    """Attack: the pull request deletes the threshold file and inlines loose thresholds."""
    repo = repository(tmp_path, released, "checkpoint: {path: release/model.tar.gz}\n"
                      + EVALUATION + "thresholds: thresholds.yml\n", **{"thresholds.yml": STRICT})
    base = repo.commit()
    repo.write("model.py", functional_model().replace('activation="relu"', 'activation="tanh"'))
    (repo.root / "thresholds.yml").unlink()
    repo.config("checkpoint: {path: release/model.tar.gz}\n" + EVALUATION
                + "thresholds:\n  " + LOOSE)
    code, report = repo.check(base=base)
    assert code == 1, report["errors"]


def test_a_widened_allow_does_not_apply(tmp_path, released):
    """Attack: the pull request adds a layer and allows its variables to be missing."""
    repo = repository(tmp_path, released, "checkpoint: {path: release/model.weights.h5}\n"
                      "allow: {missing: []}\n")
    base = repo.commit()
    repo.write("model.py", functional_model(
        extra='    x = keras.layers.Dense(8, name="extra")(x)\n'))
    repo.config("checkpoint: {path: release/model.weights.h5}\nallow: {missing: ['^extra']}\n")
    code, report = repo.check(base=base, cli=True)
    assert code == 1 and report["verdict"] == "fail"
    missing = [m for m in report["mismatches"] if m["kind"] == "missing"]
    assert missing and not any(m["allowed"] for m in missing)
    assert "allow.missing [] → ['^extra']" in report["extra"]["base"]["changes"]


def test_a_release_tag_that_matches_nothing_does_not_make_no_release_pass(
        tmp_path, released, github):
    """Attack: `checkpoint.release.tag` set to a glob matching no release, so that "no release
    yet" passes a breaking change."""
    github.add_release("v1.0.0", {"model-1.0.0.tar.gz": (released / "model.tar.gz").read_bytes()})
    repo = repository(tmp_path, released, "checkpoint:\n  release: {asset: 'model-*.tar.gz'}\n")
    base = repo.commit()
    repo.write("model.py", functional_model(units=16))
    repo.config("checkpoint:\n  release: {asset: 'model-*.tar.gz', tag: 'nothing-*'}\n")
    report = run_check(CheckOptions(repo.root / ".restore-gate.yml", quiet=True, base=base,
                                    github=GitHub.from_env))
    assert report.verdict == "fail", (report.errors, report.notices)
    assert "checkpoint.release.tag (none) → nothing-*" in report.extra["base"]["changes"]
    assert any(m.kind == "shape" for m in report.mismatches)


def test_no_release_yet_passes_when_the_base_config_agrees(tmp_path, released, github):
    """Control: no published release, with the base commit's own release settings: a pass."""
    repo = repository(tmp_path, released, "checkpoint:\n  release: {asset: 'model-*.tar.gz'}\n")
    base = repo.commit()
    repo.write("model.py", functional_model(units=16))
    report = run_check(CheckOptions(repo.root / ".restore-gate.yml", quiet=True, base=base,
                                    github=GitHub.from_env))
    assert report.verdict == "pass" and "no published release" in report.notices[0]
    assert report.extra["base"] == {"ref": base, "applied": "base", "changes": []}


def test_a_pr_checkpoint_path_does_not_replace_the_release(tmp_path, released):
    """Attack: the pull request points `checkpoint.path` at a checkpoint of its own model."""
    repo = repository(tmp_path, released, "checkpoint: {path: release/model.weights.h5}\n")
    base = repo.commit()
    repo.write("model.py", functional_model(units=16))
    save_release(repo.build(), repo.root / "mine", "h5")
    repo.config("checkpoint: {path: mine/model.weights.h5}\n")
    code, report = repo.check(base=base)
    assert code == 1 and report["checkpoint"]["source"] == "release/model.weights.h5"
    assert ("checkpoint.path release/model.weights.h5 → mine/model.weights.h5"
            in report["extra"]["base"]["changes"])


def test_a_pr_that_replaces_the_committed_checkpoint_file_gets_the_bases(tmp_path, released):
    """Attack: the release checkpoint is committed to the repository; the pull request
    overwrites it with a checkpoint of its own (incompatible) model."""
    repo = repository(tmp_path, released, "checkpoint: {path: release/model.weights.h5}\n")
    base = repo.commit()
    repo.write("model.py", functional_model(units=16))
    save_release(repo.build(), repo.root / "release", "h5")  # overwrites the release's file
    git(repo.root, "commit", "-qam", "pr")
    code, report = repo.check(base=base, cli=True)
    assert code == 1 and any(m["kind"] == "shape" for m in report["mismatches"])
    assert any("checkpoint file release/model.weights.h5 (changed by this pull request" in c
               for c in report["extra"]["base"]["changes"])


def test_a_lowered_baseline_does_not_apply(tmp_path, released):
    """Attack: a bare checkpoint judged against `baseline.metrics`: the pull request writes a
    baseline its worse model meets."""
    base_config = ("checkpoint: {path: release/model.weights.h5}\n"
                   "evaluation: {data: data:eval_data, metrics: [loss]}\n"
                   "baseline: {metrics: {loss: 0.01}}\n"
                   "thresholds:\n  metrics:\n    loss: {max_increase: 0.01}\n")
    repo = repository(tmp_path, released, base_config)
    base = repo.commit()
    repo.config(base_config.replace("loss: 0.01}}", "loss: 1000.0}}"))
    code, report = repo.check(base=base)
    assert code == 1, report
    assert "baseline.metrics.loss 0.01 → 1000.0" in report["extra"]["base"]["changes"]


def test_a_relaxed_optimizer_policy_does_not_apply(tmp_path, released):
    """Attack: the pull request swaps Adam for SGD and sets `checkpoint.optimizer: ignore`."""
    repo = repository(tmp_path, released, "checkpoint: {path: release/tf, optimizer: required}\n")
    base = repo.commit()
    repo.write("model.py", functional_model(optimizer="sgd"))
    repo.config("checkpoint: {path: release/tf, optimizer: ignore}\n")
    code, report = repo.check(base=base)
    assert code == 1 and report["optimizer"]["policy"] == "required"
    assert "checkpoint.optimizer required → ignore" in report["extra"]["base"]["changes"]


def test_without_base_a_notice_says_the_prs_own_settings_applied(tmp_path, released):
    """Attack (by omission): a run without `--base` says so in the comment."""
    repo = repository(tmp_path, released, "checkpoint: {path: release/model.weights.h5}\n")
    code, report = repo.check()
    assert code == 0 and NO_BASE in report["notices"] and "base" not in report["extra"]


def test_a_base_without_a_config_lets_the_prs_settings_apply_and_says_so(tmp_path, released):
    """Control: the pull request that adds the gate: its own settings, with a notice."""
    repo = repository(tmp_path, released, "checkpoint: {path: release/model.weights.h5}\n")
    (repo.root / ".restore-gate.yml").rename(repo.root / "later.yml")
    base = repo.commit()
    (repo.root / "later.yml").rename(repo.root / ".restore-gate.yml")
    code, report = repo.check(base=base)
    assert code == 0 and report["extra"]["base"]["applied"] == "pull request"
    assert any("own settings" in n for n in report["notices"])


def test_the_model_and_evaluation_stay_the_branchs(tmp_path, released):
    """Control: the branch's builder is what is tested, even where the base names another."""
    repo = repository(tmp_path, released, "checkpoint: {path: release/model.weights.h5}\n")
    base = repo.commit()
    repo.write("net.py", functional_model(units=16))
    repo.config("checkpoint: {path: release/model.weights.h5}\n", builder="net:build")
    code, report = repo.check(base=base)
    assert code == 1 and report["model"]["builder"] == "net:build"


# --- issue 15, items 2 and 3: a symlinked config, an unresolvable --base -----------------

SIGMOID = ('activation="relu"', 'activation="sigmoid"')
GATE = "checkpoint: {path: release/model.tar.gz}\n" + EVALUATION
TIGHT = "thresholds: {outputs: {atol: 1.0e-5, rtol: 1.0e-4}}\n"
# Loose enough that relu -> sigmoid passes: outputs, top-1 changes and the loss.
SLACK = ("thresholds: {outputs: {atol: 100.0, rtol: 100.0, max_top1_changed: 1.0}, "
         "metrics: {loss: {max_increase: 1000.0}}}\n")


def test_a_config_replaced_by_a_symlink_to_loosened_settings_is_refused(tmp_path, released):
    """Attack: the pull request swaps relu for sigmoid and replaces `.restore-gate.yml` by a
    symlink to a new file with loose thresholds: the base lookup followed the link, found no
    `loose.yml` at the base commit, called it "the base has no config", and the PR's own
    thresholds passed the change (exit 0)."""
    repo = repository(tmp_path, released, GATE + TIGHT)
    base = repo.commit()
    repo.write("model.py", functional_model().replace(*SIGMOID))
    repo.write("loose.yml", repo.config(GATE + SLACK).read_text())
    (repo.root / ".restore-gate.yml").unlink()
    (repo.root / ".restore-gate.yml").symlink_to("loose.yml")
    code, report = repo.check(base=base, cli=True)
    assert (code, report["verdict"]) == (2, "error"), report["notices"]
    error = report["errors"][0]
    assert error["stage"] == "config" and ".restore-gate.yml" in error["message"]
    assert "symlink" in error["message"] and "--config" in error["hint"]


def test_a_symlinked_threshold_file_is_refused(tmp_path, released):
    """Attack: relu -> sigmoid, and `thresholds.yml` replaced by a symlink to a loose file:
    without --base the link decided (exit 0); with it the base's file did. Both refuse it."""
    repo = repository(tmp_path, released, GATE + "thresholds: thresholds.yml\n",
                      **{"thresholds.yml": STRICT, "loose.yml": SLACK[12:]})
    base = repo.commit()
    repo.write("model.py", functional_model().replace(*SIGMOID))
    (repo.root / "thresholds.yml").unlink()
    (repo.root / "thresholds.yml").symlink_to("loose.yml")
    for given in (None, base):
        code, report = repo.check(base=given)
        assert code == 2 and "thresholds.yml" in report["errors"][0]["message"]
        assert "symlink" in report["errors"][0]["message"]


def test_a_base_commit_whose_config_is_a_symlink_is_an_error(tmp_path, released):
    """Fail closed: git lists a symlink at the base commit's config path; that is neither
    "the base has no config" nor a config (git's text of a link is its target)."""
    repo = repository(tmp_path, released, GATE + TIGHT)
    (repo.root / ".restore-gate.yml").rename(repo.root / "real.yml")
    (repo.root / ".restore-gate.yml").symlink_to("real.yml")
    base = repo.commit()
    (repo.root / ".restore-gate.yml").unlink()
    (repo.root / "real.yml").rename(repo.root / ".restore-gate.yml")
    code, report = repo.check(base=base)
    assert code == 2 and report["errors"][0]["message"].startswith(
        f".restore-gate.yml at the base commit {base} is a symlink")


def test_a_config_under_a_folder_the_base_links_is_not_a_missing_config(tmp_path, released):
    """Attack: at the base commit the config lives at `ci/.restore-gate.yml` through a linked
    folder (`ci -> gate`); the pull request replaces the link by a real folder with loose
    settings and a relu -> sigmoid change. Git lists nothing at `ci/.restore-gate.yml` in the
    base commit, which read as "the base has no config": the PR's settings passed (exit 0)."""
    repo = repository(tmp_path, released, GATE + TIGHT)
    (repo.root / "gate").mkdir()
    for name in ("model.py", "data.py", "release", ".restore-gate.yml"):
        (repo.root / name).rename(repo.root / "gate" / name)
    (repo.root / "ci").symlink_to("gate")
    base = repo.commit()
    (repo.root / "ci").unlink()
    shutil.copytree(repo.root / "gate", repo.root / "ci")
    config = repo.root / "ci" / ".restore-gate.yml"
    config.write_text(config.read_text().replace(TIGHT, SLACK))
    (repo.root / "ci" / "model.py").write_text(functional_model().replace(*SIGMOID))
    report = run_check(CheckOptions(config, quiet=True, base=base,
                                    github=GitHub.from_env)).to_dict()
    assert report["verdict"] == "error", report["notices"]
    assert report["errors"][0]["message"].startswith(f"ci at the base commit {base} is a symlink")


@pytest.mark.parametrize("ref", ["mian", "0" * 40])
def test_a_base_ref_git_cannot_resolve_is_an_error_not_the_prs_settings(tmp_path, released, ref):
    """Attack (by accident): `--base mian` (a typo) or a base sha a `fetch-depth: 1` checkout
    did not fetch: it read as "the base has no config", and the PR's loose thresholds passed
    its relu -> sigmoid change (exit 0)."""
    repo = repository(tmp_path, released, GATE + TIGHT)
    repo.commit()
    repo.write("model.py", functional_model().replace(*SIGMOID))
    repo.config(GATE + SLACK)
    code, report = repo.check(base=ref, cli=True)
    assert (code, report["verdict"]) == (2, "error"), report["notices"]
    error = report["errors"][0]
    assert error["stage"] == "config" and repr(ref) in error["message"]
    assert "fetch-depth: 2" in error["hint"] and "git fetch origin" in error["hint"]


def test_the_base_commit_decides_with_a_real_base_ref(tmp_path, released):
    """Control for the two above: the same change against the resolvable base fails (exit 1)."""
    repo = repository(tmp_path, released, GATE + TIGHT)
    repo.commit()
    git(repo.root, "branch", "main")
    repo.write("model.py", functional_model().replace(*SIGMOID))
    repo.config(GATE + SLACK)
    code, report = repo.check(base="main")
    assert code == 1 and report["extra"]["base"]["applied"] == "base"


def test_the_action_refuses_a_config_replaced_by_a_symlink(released):
    """Attack, through the action (as root, the workspace owned by the runner's uid 1001, the
    branch as `nobody`): the pull request doubles the hidden layer and replaces
    `.restore-gate.yml` by a symlink to a config naming a checkpoint of its own model: the
    step passed (exit 0)."""
    from action_support import action_env, checkout
    from test_hostile_host import _run_dropped, needs_root

    if needs_root.args[0]:
        pytest.skip(needs_root.kwargs["reason"])
    workspace, temp = (Path(tempfile.mkdtemp(prefix="restore-gate-trust-")) for _ in "ab")
    try:
        repo = Repo(workspace)
        repo.write("model.py", functional_model())
        repo.config("checkpoint: {path: release/model.weights.h5}\n")
        shutil.copytree(released, workspace / "release")
        base = checkout(workspace)
        repo.write("model.py", functional_model(units=16))
        save_release(repo.build(), workspace / "mine", "h5")
        repo.write("loose.yml", repo.config("checkpoint: {path: mine/model.weights.h5}\n")
                   .read_text())
        (workspace / ".restore-gate.yml").unlink()
        (workspace / ".restore-gate.yml").symlink_to("loose.yml")
        for folder in (workspace, temp):
            subprocess.run(["chown", "-R", "-h", "1001:1001", str(folder)], check=True)
            folder.chmod(0o755)
        env = action_env(workspace, temp, {"mode": "check"}, "token",
                         {"pull_request": {"number": 7, "base": {"sha": base}}})
        result = _run_dropped(workspace, env)
        assert (result.returncode, result.outputs.get("verdict")) == (2, "error"), result.log
        report = json.loads((workspace / "restore-gate-report.json").read_text())
        assert ".restore-gate.yml" in report["errors"][0]["message"]
        assert "symlink" in report["errors"][0]["message"]
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
        shutil.rmtree(temp, ignore_errors=True)


# --- item 8: containment -------------------------------------------------------------------

def manager_folder(tmp_path: Path, state: str) -> Path:
    """A real CheckpointManager folder whose state file says `state`."""
    import keras

    keras.backend.clear_session()
    source = Project(tmp_path / "m")
    source.write("model.py", functional_model())
    folder = save_release(source.build(), tmp_path / "manager", "manager")
    (folder / "checkpoint").write_text(f'model_checkpoint_path: "{state}"\n'
                                       f'all_model_checkpoint_paths: "{state}"\n')
    return folder


def manager_bundle(tmp_path: Path, state: str) -> Path:
    """A hand-made bundle of a CheckpointManager folder whose state file says `state`."""
    import tarfile

    folder = manager_folder(tmp_path, state)
    bundle = tmp_path / "manager.tar.gz"
    manifest = tmp_path / "restore-gate.json"
    manifest.write_text(json.dumps({"checkpoint": "checkpoint"}))
    with tarfile.open(bundle, "w:gz") as archive:
        archive.add(manifest, "restore-gate.json")
        for file in sorted(folder.iterdir()):
            archive.add(file, f"checkpoint/{file.name}")
    return bundle


@pytest.mark.parametrize("state, what", [
    ("{outside}/ckpt-2", "an absolute path"),
    ("../../../outside/ckpt-2", "a path out of its folder"),
])
def test_a_bundle_state_file_may_not_point_outside_the_bundle(tmp_path, project, state, what):
    """Attack: a CheckpointManager state file in a bundle naming a checkpoint on the host
    (absolute or `..`): the gate would read the host's file as the release."""
    outside = save_release(_model(tmp_path), tmp_path / "outside", "manager")
    bundle = manager_bundle(tmp_path, state.format(outside=outside))
    project.write("model.py", functional_model())
    project.config()
    report = project.check(bundle)
    assert report.verdict == "error"
    assert report.errors[0]["stage"] == "fetch" and what in report.errors[0]["message"]
    assert str(outside) not in report.errors[0]["message"]


def _model(tmp_path: Path):
    source = Project(tmp_path / "o")
    source.write("model.py", functional_model())
    return source.build()


def test_snapshot_writes_a_v1_style_absolute_state_file_by_name(tmp_path, project):
    """Control: a folder whose state file holds absolute paths (as `tf.compat.v1` Savers
    write) is bundled with the names only, so its bundle restores."""
    from restore_gate.commands.snapshot import snapshot
    from restore_gate.runtime import describe_device

    folder = manager_folder(tmp_path, str(tmp_path / "manager" / "ckpt-2"))
    bundle = tmp_path / "v1.tar.gz"
    snapshot(folder, bundle, describe_device("cpu"), tmp_path)
    project.write("model.py", functional_model())
    project.config()
    assert project.check(bundle).verdict == "pass"


def test_a_relative_state_file_inside_the_bundle_is_fine(tmp_path, project):
    """Control: CheckpointManager's own relative state file restores."""
    bundle = manager_bundle(tmp_path, "ckpt-2")
    project.write("model.py", functional_model())
    project.config()
    assert project.check(bundle).verdict == "pass"


@pytest.mark.parametrize("value, reason", [
    ("/etc/passwd", "is an absolute path"),
    ("../outside.yml", "leaves the repository"),
    ("link.yml", "resolves (through a symlink) to a place outside"),
])
def test_the_threshold_file_must_stay_inside_the_repository(tmp_path, project, value, reason):
    """Attack: `thresholds:` naming a host file (its text used to be echoed in the error)."""
    outside = tmp_path / "outside.yml"
    outside.write_text("root:x:0:0:secret-outside:/root:/bin/bash\n")
    (project.root / "link.yml").parent.mkdir(parents=True, exist_ok=True)
    (project.root / "link.yml").symlink_to(outside)
    path = project.config(f"thresholds: {value}\n")
    with pytest.raises(GateError) as caught:
        load_config(path)
    message = caught.value.message
    assert reason in message and ".restore-gate.yml:4: 'thresholds'" in message
    assert "root:x" not in message and "secret-outside" not in message


@pytest.mark.parametrize("value, reason", [
    ("/usr/lib", "is an absolute path"),
    ("src/../..", "leaves the repository"),
    ("linked", "resolves (through a symlink) to a place outside"),
])
def test_model_paths_must_stay_inside_the_repository(tmp_path, project, value, reason):
    """Attack: `model.paths` putting a host folder first on sys.path (shadowing modules)."""
    (tmp_path / "elsewhere").mkdir()
    project.root.mkdir(parents=True, exist_ok=True)
    os.symlink(tmp_path / "elsewhere", project.root / "linked")
    path = project.write(".restore-gate.yml", "version: 1\nmodel:\n  builder: model:build\n"
                         f"  paths: [src, '{value}']\n")
    with pytest.raises(GateError) as caught:
        load_config(path)
    assert reason in caught.value.message
    assert ".restore-gate.yml:4: 'model.paths.1'" in caught.value.message


@pytest.mark.parametrize("text", [
    "ghp_SECRETTOKEN0123456789\n",  # a scalar: "is not of type 'object'" used to quote it
    "- ghp_SECRETTOKEN0123456789\n",  # a list
    "!ghp_SECRETTOKEN0123456789 x\n",  # an unknown tag: the YAML error used to quote it
    "{ghp_SECRETTOKEN0123456789: [\n",  # a syntax error
    "'ghp_SECRETTOKEN0123456789\n",  # an unterminated string
])
def test_an_error_never_echoes_the_named_files_text(project, text):
    """Attack: `thresholds:` naming a file that is not YAML thresholds (a key, a `.env`):
    the error says what is wrong with it, without its text."""
    project.write("notes.txt", text)
    path = project.config("thresholds: notes.txt\n")
    with pytest.raises(GateError) as caught:
        load_config(path)
    assert "notes.txt" in str(caught.value)
    assert "SECRETTOKEN" not in str(caught.value)


def test_an_unknown_key_error_does_not_show_its_value(project):
    """Attack: a threshold file holding `token: ghp_...`: the key is named, not the value."""
    project.write("t.yml", "token: ghp_SECRETTOKEN0123456789\n")
    path = project.config("thresholds: t.yml\n")
    with pytest.raises(GateError, match="unknown key 'token'") as caught:
        load_config(path)
    assert "SECRETTOKEN" not in str(caught.value)


def test_a_flood_of_changes_keeps_the_report_valid_for_publish(tmp_path, released):
    """Attack: 300 changed thresholds and a 100 KB `allow` regex, so that the change notice
    would overflow the report's text limit and `publish` would refuse the report: the notice
    is cut, the report stays valid."""
    from restore_gate.core.report import validate_report

    repo = repository(tmp_path, released, "checkpoint: {path: release/model.weights.h5}\n")
    base = repo.commit()
    metrics = ", ".join(f"m{i}: {{max_increase: 0.5}}" for i in range(300))
    repo.config("checkpoint: {path: release/model.weights.h5}\n"
                f"allow: {{missing: ['^{'x' * 100_000}']}}\n"
                f"thresholds: {{metrics: {{{metrics}}}}}\n")
    report = run_check(CheckOptions(repo.root / ".restore-gate.yml", quiet=True, base=base,
                                    github=GitHub.from_env))
    notice = next(n for n in report.notices if "override label" in n)
    assert len(notice) < 4096 and "more (in the report)" in notice
    assert len(report.extra["base"]["changes"]) == 50
    validate_report(json.loads(json.dumps(report.to_dict())), "report.json")
