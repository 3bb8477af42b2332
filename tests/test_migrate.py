"""`restore-gate migrate`: a Keras 3 `.weights.h5` from a tf.keras (Keras 2) tf.train.Checkpoint.

Ground truth is the Keras 2 model itself: the migrated file, loaded with plain Keras 3
`load_weights` into the branch model, must reproduce the outputs the TF 2.15 model gave
(recorded in tests/data/keras2/*/eval.npz), and the gate must pass it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, Project

DATA = Path(__file__).resolve().parent / "data" / "keras2"


@pytest.fixture
def branch(tmp_path: Path) -> Project:
    project = Project(tmp_path / "repo")
    shutil.copy(DATA / "model_source.py", project.root / "model_source.py")
    return project


@pytest.mark.parametrize("style", ["functional", "subclassed"])
@pytest.mark.parametrize("name", ["ckpt", "ckpt_opt"])
def test_migrated_file_reproduces_the_keras2_model(branch, tmp_path, style, name):
    from restore_gate.commands.migrate import migrate
    from restore_gate.settings.config import load_config

    config = branch.config(builder=f"model_source:build_{style}")
    out = tmp_path / "model.weights.h5"
    written = migrate(DATA / style / name / "ckpt", load_config(config), out)
    model = branch.build(f"model_source:build_{style}")
    assert written == len(model.weights)
    model.load_weights(out)  # plain Keras 3
    recorded = np.load(DATA / style / "eval.npz")
    np.testing.assert_allclose(np.asarray(model(recorded["x"])), recorded["outputs"],
                               atol=1e-6, rtol=0)
    report = branch.check(out, config)
    assert report.verdict == "pass", (report.mismatches, report.errors)
    assert report.model["restored"] == report.model["variables"]


def test_migrate_refuses_a_branch_that_does_not_fit(branch, tmp_path):
    (branch.root / "model_source.py").write_text(
        (DATA / "model_source.py").read_text().replace("Dense(8", "Dense(16"))
    config = branch.config(builder="model_source:build_functional")
    out = tmp_path / "model.weights.h5"
    result = subprocess.run(
        [sys.executable, "-m", "restore_gate", "migrate", str(DATA / "functional" / "ckpt"),
         "--config", str(config), "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 2, result.stderr
    assert "no variable of their shape" in result.stderr and "layer_with_weights-0" in \
        result.stderr
    assert not out.exists()


def test_the_upgrade_hint_names_the_migration(branch):
    config = branch.config(builder="model_source:build_functional")
    report = branch.check(DATA / "functional" / "ckpt" / "ckpt", config)
    assert report.verdict == "fail"
    assert all("restore-gate migrate" in m.hint for m in report.mismatches if m.blocking)
