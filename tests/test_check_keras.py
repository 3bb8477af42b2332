"""`check` against Keras 3 releases: `.weights.h5` and `.keras` files.

Keras 3 stores weights under class-derived paths (`layers/dense/vars/0`), so a renamed
layer or an inserted weightless layer still loads; shape and dtype changes do not
(and a dtype change is cast silently by Keras: the gate still names it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import Project, functional_model, release_model, save_release

DROPOUT = "    x = keras.layers.Dropout(0.2)(x)\n"
SPLIT_ACTIVATION = functional_model(extra='    x = keras.layers.Activation("relu")(x)\n').replace(
    'activation="relu", ', "")
SGD = functional_model().replace('optimizer="adam"', "optimizer=keras.optimizers.SGD(momentum=0.9)")


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("keras-release")
    model = release_model(base)
    return {
        "h5": save_release(model, base / "h5", "h5"),
        "keras": save_release(model, base / "keras", "keras"),
        "hidden_kernel": model.get_layer("hidden").kernel.numpy(),
    }


def branch(project: Project, code: str, extra: str = "") -> Project:
    project.write("model.py", code)
    project.config(extra)
    return project


FORMATS = ["h5", "keras"]


@pytest.mark.parametrize("kind", FORMATS)
def test_unchanged_model_passes(releases, project, kind):
    report = branch(project, functional_model()).check(releases[kind])
    assert report.errors == []
    assert report.verdict == "pass", report.mismatches
    assert report.model["restored"] == report.model["variables"] == 4
    assert report.checkpoint["format"] == ("keras-weights" if kind == "h5" else "keras")
    assert report.optimizer.status == "restored"


@pytest.mark.parametrize("kind", FORMATS)
@pytest.mark.parametrize(
    "code",
    [
        functional_model().replace('name="hidden"', 'name="encoder"'),
        functional_model(extra=DROPOUT),
        SPLIT_ACTIVATION,
    ],
    ids=["renamed-layer", "dropout-added", "activation-split"],
)
def test_harmless_changes_pass(releases, project, kind, code):
    report = branch(project, code).check(releases[kind])
    assert report.verdict == "pass", report.mismatches
    assert report.model["restored"] == 4


@pytest.mark.parametrize("kind", FORMATS)
def test_units_changed_is_a_shape_mismatch_per_layer(releases, project, kind):
    report = branch(project, functional_model(units=16)).check(releases[kind])
    assert report.verdict == "fail"
    shapes = {m.name: m for m in report.mismatches if m.kind == "shape"}
    assert set(shapes) == {"hidden/kernel", "hidden/bias", "out/kernel"}
    assert shapes["hidden/kernel"].checkpoint.shape == [4, 8]
    assert shapes["hidden/kernel"].model.shape == [4, 16]
    assert shapes["hidden/kernel"].key == "layers/dense/vars/0"
    assert shapes["hidden/kernel"].source == "model.py:6"


@pytest.mark.parametrize("kind", FORMATS)
def test_layer_added_is_missing_and_removed_is_unexpected(releases, project, kind):
    added = functional_model(extra='    x = keras.layers.Dense(8, name="extra")(x)\n')
    report = branch(project, added).check(releases[kind])
    assert report.verdict == "fail"
    kinds = {(m.kind, m.name) for m in report.mismatches}
    # Keras pairs by class-derived order: `extra` takes `out`'s slot (dense_1), `out` is new
    assert ("missing", "out/kernel") in kinds and ("missing", "out/bias") in kinds
    assert ("shape", "extra/kernel") in kinds
    assert next(m for m in report.mismatches if m.name == "out/kernel").source == "model.py:8"


def test_float64_is_a_dtype_mismatch_although_keras_casts_it_silently(releases, project):
    code = functional_model(dtype="float64")
    report = branch(project, code).check(releases["h5"])
    assert report.verdict == "fail"
    dtype = {m.name: m for m in report.mismatches if m.kind == "dtype"}
    assert set(dtype) == {"hidden/kernel", "hidden/bias"}
    assert (dtype["hidden/kernel"].checkpoint.dtype, dtype["hidden/kernel"].model.dtype) == (
        "float32", "float64")
    model = project.build()
    model.load_weights(str(releases["h5"]))  # no error: Keras casts float32 -> float64
    kernel = model.get_layer("hidden").kernel
    assert kernel.dtype == "float64"
    np.testing.assert_allclose(kernel.numpy(), releases["hidden_kernel"])


@pytest.mark.parametrize("kind", FORMATS)
@pytest.mark.parametrize(("policy", "verdict"), [("optional", "pass"), ("required", "fail")])
def test_adam_to_sgd_is_named_and_the_weights_restore(releases, project, kind, policy, verdict):
    report = branch(project, SGD, f"checkpoint:\n  optimizer: {policy}\n").check(releases[kind])
    assert report.errors == []
    assert report.verdict == verdict
    assert report.mismatches == []
    assert report.model["restored"] == 4
    state = report.optimizer
    assert state.status == "changed"
    assert state.checkpoint_type.lower() == "adam" and state.model_type == "SGD"
    assert state.checkpoint_values == 10 and state.model_values == 6
