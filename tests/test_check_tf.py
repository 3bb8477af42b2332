"""`check` against tf.train.Checkpoint releases (prefix and CheckpointManager folder).

Each branch variant is real model code in a fake repository; the releases are written
once per module by plain TensorFlow/Keras calls. Where the verdict rests on how
TensorFlow's own restore behaves, the test proves that behaviour too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SUBCLASSED_MODEL, Project, functional_model, release_model, save_release

DROPOUT = '    x = keras.layers.Dropout(0.2)(x)\n'
EXTRA_DENSE = '    x = keras.layers.Dense(8, name="extra")(x)\n'


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The release model (hidden: 8 units, out: 3) saved every TF way, uncompiled and compiled."""
    base = tmp_path_factory.mktemp("tf-release")
    release = Project(base / "repo")
    release.write("model.py", functional_model(compiled=False))
    plain = release.build()
    saved = {"plain": save_release(plain, base / "plain", "tf")}
    saved["plain_kernel"] = plain.get_layer("out").kernel.numpy()
    release.write("model.py", functional_model())
    compiled = release.build()
    saved["compiled"] = save_release(compiled, base / "compiled", "tf")
    saved["opt"] = save_release(compiled, base / "opt", "tf-opt")
    saved["manager"] = save_release(compiled, base / "manager", "manager")
    release.write("sub.py", SUBCLASSED_MODEL.format(first="hidden"))
    saved["sub"] = save_release(release.build("sub:build"), base / "sub", "tf")
    return saved


def branch(project: Project, code: str, extra: str = "", module: str = "model") -> Project:
    project.write(f"{module}.py", code)
    project.config(extra, builder=f"{module}:build")
    return project


def by_name(report) -> dict[str, object]:
    return {m.name: m for m in report.mismatches}


@pytest.mark.parametrize("kind", ["plain", "compiled", "opt", "manager"])
def test_unchanged_model_passes_and_every_variable_is_verified(releases, project, kind):
    compiled = kind != "plain"
    report = branch(project, functional_model(compiled=compiled)).check(releases[kind])
    assert report.errors == []
    assert report.verdict == "pass", report.mismatches
    assert report.mismatches == []
    assert report.model["restored"] == report.model["variables"] == 4
    assert report.checkpoint["format"] == "tf-checkpoint"
    if kind in ("opt", "manager"):
        assert report.optimizer.status == "restored"
        assert report.optimizer.checkpoint_values == report.optimizer.model_values > 0


def test_manager_folder_resolves_to_the_latest_checkpoint(releases, project):
    report = branch(project, functional_model()).check(releases["manager"])
    assert report.verdict == "pass"
    assert report.checkpoint["source"].endswith("manager")


def test_units_changed_names_each_shape_mismatch_with_layer_and_source(releases, project):
    report = branch(project, functional_model(units=16, compiled=False)).check(releases["plain"])
    assert report.verdict == "fail"
    found = by_name(report)
    assert set(found) == {"hidden/kernel", "hidden/bias", "out/kernel"}
    kernel = found["hidden/kernel"]
    assert kernel.kind == "shape"
    assert kernel.layer == "hidden"
    assert kernel.checkpoint.shape == [4, 8] and kernel.model.shape == [4, 16]
    assert kernel.source == "model.py:6"
    assert found["out/kernel"].source == "model.py:7"
    assert kernel.key.startswith("model/_operations/1/")
    assert "(4, 8)" in kernel.hint and "(4, 16)" in kernel.hint
    # the compatible value still restored: out/bias holds the release's value
    assert report.model["restored"] == 1


def test_layer_added_in_uncompiled_functional_model_fails_per_layer(releases, project):
    report = branch(project, functional_model(extra=EXTRA_DENSE, compiled=False)).check(
        releases["plain"])
    assert report.verdict == "fail"
    found = by_name(report)
    # `extra` sits where `out` was saved (same position, incompatible shape) and `out` is new
    assert found["extra/kernel"].kind == "shape"
    assert found["extra/kernel"].checkpoint_name == "out/kernel"
    assert found["extra/kernel"].source == "model.py:7"
    assert {found["out/kernel"].kind, found["out/bias"].kind} == {"missing"}
    assert found["out/kernel"].source == "model.py:8"


def test_layer_removed_reports_unexpected_values(releases, project):
    lines = functional_model(compiled=False).splitlines(keepends=True)
    code = "".join("    x = inputs\n" if 'name="hidden"' in line else line for line in lines)
    report = branch(project, code).check(releases["plain"])
    assert report.verdict == "fail"
    kinds = {(m.kind, m.checkpoint_name or m.name) for m in report.mismatches}
    assert ("shape", "hidden/kernel") in kinds  # `out` now sits at position 1, built 4x3
    assert {m.kind for m in report.mismatches} >= {"shape", "unexpected"}
    assert all(not m.allowed for m in report.mismatches)


def test_renamed_layer_in_functional_model_passes(releases, project):
    code = functional_model(compiled=False).replace('name="hidden"', 'name="encoder"')
    report = branch(project, code).check(releases["plain"])
    assert report.verdict == "pass", report.mismatches
    assert report.model["restored"] == 4


@pytest.mark.parametrize("extra", [DROPOUT, '    x = keras.layers.Activation("relu")(x)\n'])
def test_inserted_layer_shifts_positions_without_optimizer_and_tf_agrees(
    releases, project, extra
):
    """Uncompiled Keras 3 functional model: layers are tracked by position, so TF's own
    restore really leaves `out` at its initial value. The gate must fail."""
    import tensorflow as tf

    code = functional_model(extra=extra, compiled=False)
    if "Activation" in extra:
        code = code.replace('activation="relu", ', "")
    report = branch(project, code).check(releases["plain"])
    assert report.verdict == "fail"
    assert {m.name for m in report.mismatches if m.kind in ("missing", "rename")} == {
        "out/kernel", "out/bias"}
    model = project.build()
    status = tf.train.Checkpoint(model=model).read(str(releases["plain"]))
    with pytest.raises(AssertionError, match=r"out/(kernel|bias)"):
        status.assert_existing_objects_matched()
    assert not np.array_equal(model.get_layer("out").kernel.numpy(), releases["plain_kernel"])
    status.expect_partial()


@pytest.mark.parametrize("kind", ["compiled", "opt"])
@pytest.mark.parametrize("change", ["dropout", "activation"])
def test_harmless_insertions_pass_when_the_optimizer_tracks_the_weights(
    releases, project, kind, change
):
    """With an optimizer in the graph, each weight is also reachable through
    `optimizer/_trainable_variables/N`, so TF restores it despite the shift."""
    if change == "dropout":
        code = functional_model(extra=DROPOUT)
    else:
        code = functional_model(extra='    x = keras.layers.Activation("relu")(x)\n').replace(
            'activation="relu", ', "")
    report = branch(project, code).check(releases[kind])
    assert report.verdict == "pass", report.mismatches
    assert report.model["restored"] == 4


def test_renamed_attribute_in_subclassed_model_fails_with_probable_rename(releases, project):
    report = branch(project, SUBCLASSED_MODEL.format(first="encoder"), module="sub").check(
        releases["sub"])
    assert report.verdict == "fail"
    renames = [m for m in report.mismatches if m.kind == "rename"]
    assert len(renames) == 2
    kernel = next(m for m in renames if m.name.endswith("kernel"))
    assert kernel.checkpoint.shape == kernel.model.shape == [4, 8]
    assert "renamed" in kernel.hint or "object path" in kernel.hint
    assert kernel.key.startswith("model/hidden/")
    assert kernel.source == "sub.py:7"


def test_unchanged_subclassed_model_passes(releases, project):
    report = branch(project, SUBCLASSED_MODEL.format(first="hidden"), module="sub").check(
        releases["sub"])
    assert report.verdict == "pass", report.mismatches


def test_float64_layer_is_a_dtype_mismatch_and_tf_refuses_it(releases, project):
    import tensorflow as tf

    report = branch(project, functional_model(dtype="float64", compiled=False)).check(
        releases["plain"])
    assert report.verdict == "fail"
    dtype = {m.name: m for m in report.mismatches if m.kind == "dtype"}
    assert set(dtype) == {"hidden/kernel", "hidden/bias"}
    assert dtype["hidden/kernel"].checkpoint.dtype == "float32"
    assert dtype["hidden/kernel"].model.dtype == "float64"
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.train.Checkpoint(model=project.build()).read(str(releases["plain"]))


SGD = functional_model().replace('optimizer="adam"', "optimizer=keras.optimizers.SGD(momentum=0.9)")


@pytest.mark.parametrize(
    ("policy", "verdict"), [("optional", "pass"), ("required", "fail"), ("ignore", "pass")]
)
def test_adam_to_sgd_is_an_optimizer_change_and_the_weights_still_restore(
    releases, project, policy, verdict
):
    report = branch(project, SGD, f"checkpoint:\n  optimizer: {policy}\n").check(releases["opt"])
    assert report.errors == []
    assert report.verdict == verdict
    assert report.mismatches == []
    assert report.model["restored"] == 4
    state = report.optimizer
    assert state.policy == policy
    if policy == "ignore":
        assert state.status == "ignored"
        return
    assert state.status == "changed"
    assert state.checkpoint_type.lower() == "adam" and state.model_type == "SGD"
    assert state.checkpoint_values == 10 and state.model_values == 6
    assert "Adam".lower() in state.hint.lower() and "SGD" in state.hint


def test_adam_to_sgd_tf_restore_itself_raises_a_misleading_shape_error(releases, project):
    import tensorflow as tf

    branch(project, SGD)
    model = project.build()
    model.optimizer.build(model.trainable_variables)
    with pytest.raises(ValueError, match="incompatible tensor with shape"):
        tf.train.Checkpoint(model=model, optimizer=model.optimizer).read(str(releases["opt"]))


def test_missing_optimizer_state_with_required_policy_fails(releases, project):
    report = branch(project, functional_model(), "checkpoint:\n  optimizer: required\n").check(
        releases["plain"])
    assert report.verdict == "fail"
    assert report.optimizer.status == "new"
    assert report.mismatches == []


def test_allow_lists_make_mismatches_non_blocking(releases, project):
    code = functional_model(extra=EXTRA_DENSE, compiled=False)
    strict = branch(project, code).check(releases["plain"])
    assert strict.verdict == "fail"
    assert not any(m.allowed for m in strict.mismatches)
    allow = "allow:\n  missing: ['^out/']\n  unexpected: ['.*']\n"
    loose = branch(project, code, allow).check(releases["plain"])
    allowed = {m.name for m in loose.mismatches if m.allowed}
    assert allowed == {"out/kernel", "out/bias"}
    # a shape mismatch is never allowed away: that value cannot restore
    assert {m.name for m in loose.mismatches if m.blocking} == {"extra/kernel", "extra/bias"}
    assert loose.verdict == "fail"


APPENDED = functional_model(compiled=False).replace(
    "    model = keras.Model(inputs, outputs)\n",
    '    outputs = keras.layers.Dense(2, name="adapter")(outputs)\n'
    "    model = keras.Model(inputs, outputs)\n",
)


def test_allow_missing_lets_a_new_layer_start_fresh(releases, project):
    strict = branch(project, APPENDED).check(releases["plain"])
    assert strict.verdict == "fail"
    assert {(m.kind, m.name) for m in strict.mismatches} == {
        ("missing", "adapter/kernel"), ("missing", "adapter/bias")}
    assert strict.model["restored"] == 4
    loose = branch(project, APPENDED, "allow:\n  missing: ['^adapter/']\n").check(
        releases["plain"])
    assert all(m.allowed for m in loose.mismatches) and loose.mismatches
    assert loose.verdict == "pass"


def test_allow_unexpected_lets_a_removed_layer_go(tmp_path, project):
    release = Project(tmp_path / "release")
    release.write("model.py", APPENDED)
    ckpt = save_release(release.build(), tmp_path / "ckpt", "tf")
    strict = branch(project, functional_model(compiled=False)).check(ckpt)
    assert strict.verdict == "fail"
    assert {(m.kind, m.name) for m in strict.mismatches} == {
        ("unexpected", "adapter/kernel"), ("unexpected", "adapter/bias")}
    loose = branch(project, functional_model(compiled=False),
                   "allow:\n  unexpected: ['^adapter/']\n").check(ckpt)
    assert loose.verdict == "pass"


@pytest.fixture(scope="module")
def other_roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Checkpoints whose root is not `model=`/`optimizer=`: custom names, or the model itself."""
    import tensorflow as tf

    base = tmp_path_factory.mktemp("roots")
    model = release_model(base)
    model.optimizer.build(model.trainable_variables)
    named = tf.train.Checkpoint(net=model, opt=model.optimizer).write(str(base / "named" / "c"))
    bare = tf.train.Checkpoint(root=model).write(str(base / "bare" / "c"))
    return {"named": Path(named), "bare": Path(bare)}


@pytest.mark.parametrize("config", ["", "checkpoint:\n  root: {model: net, optimizer: opt}\n"],
                         ids=["detected", "configured"])
def test_checkpoint_with_custom_root_names_restores_model_and_optimizer(
    other_roots, project, config
):
    report = branch(project, functional_model(), config).check(other_roots["named"])
    assert report.verdict == "pass", report.mismatches
    assert report.model["restored"] == 4
    assert report.optimizer.status == "restored"
    assert report.optimizer.checkpoint_values == 10


def test_checkpoint_whose_root_is_the_model_passes(other_roots, project):
    report = branch(project, functional_model()).check(other_roots["bare"])
    assert report.verdict == "pass", report.mismatches
    assert report.optimizer.status == "restored"


BATCH_NORM = '    x = keras.layers.BatchNormalization(name="bn")(x)\n'


def test_dropout_before_batch_norm_loses_its_moving_statistics_even_with_optimizer(
    tmp_path, project
):
    """Only trainable weights are reachable through the optimizer: BatchNormalization's
    moving statistics stay tracked by position, so TF really leaves them at 0/1."""
    import tensorflow as tf

    release = Project(tmp_path / "release")
    release.write("model.py", functional_model(extra=BATCH_NORM))
    model = release.build()
    model.get_layer("bn").moving_mean.assign(np.full(8, 3.0, "float32"))
    ckpt = save_release(model, tmp_path / "ckpt", "tf-opt")

    report = branch(project, functional_model(extra=DROPOUT + BATCH_NORM)).check(ckpt)
    assert report.verdict == "fail"
    moved = {m.name: m for m in report.mismatches}
    assert set(moved) == {"bn/moving_mean", "bn/moving_variance"}
    assert "inserted or removed" in moved["bn/moving_mean"].hint
    assert moved["bn/moving_mean"].source == "model.py:8"

    branched = project.build()
    branched.optimizer.build(branched.trainable_variables)
    tf.train.Checkpoint(model=branched, optimizer=branched.optimizer).read(
        str(ckpt)).expect_partial()
    assert np.array_equal(branched.get_layer("bn").moving_mean.numpy(), np.zeros(8))
