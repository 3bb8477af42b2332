"""Custom objects in `.keras` releases: registered classes, renamed classes, Lambda layers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from formats_helpers import restored, write_branch

from restore_gate.commands.inspect import inspect_checkpoint

LAYERS = """\
import keras


@keras.saving.register_keras_serializable(package="demo")
class {cls}(keras.layers.Layer):
    def __init__(self, {arg}=1.0, **kwargs):
        super().__init__(**kwargs)
        self.{arg} = {arg}

    def build(self, shape):
        self.w = self.add_weight(shape=(shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return x * self.w * self.{arg}

    def get_config(self):
        return {{**super().get_config(), "{arg}": self.{arg}}}
"""
MODEL = """\
import keras
import layers


def build():
    inputs = keras.Input((4,), name="x")
    x = layers.{cls}(name="scale")(inputs)
    outputs = keras.layers.Dense(3, name="out")(x)
    return keras.Model(inputs, outputs)
"""
CONFIG = "  custom_objects: [layers]\n"


def custom_branch(project, cls: str = "Scale", arg: str = "factor") -> None:
    for stale in ("layers", "model"):  # another test's project: CI runs in a fresh process
        sys.modules.pop(stale, None)
    project.write("layers.py", LAYERS.format(cls=cls, arg=arg))
    write_branch(project, MODEL.format(cls=cls), model_keys=CONFIG)


@pytest.fixture
def release(project, tmp_path) -> Path:
    from keras.src.saving.object_registration import GLOBAL_CUSTOM_OBJECTS

    custom_branch(project)
    path = tmp_path / "release" / "model.keras"
    path.parent.mkdir()
    project.build("model:build").save(str(path))
    # CI checks in a fresh process: only the classes the branch registers exist there
    GLOBAL_CUSTOM_OBJECTS.pop("demo>Scale", None)
    return path


def test_inspect_lists_the_custom_class_where_it_was_defined(release):
    data = inspect_checkpoint(release)
    scale = next(c for c in data["layer_classes"] if c["name"] == "scale")
    assert scale == {"name": "scale", "class_name": "Scale", "module": "layers",
                     "registered_name": "demo>Scale", "custom": True}


def test_unchanged_registered_class_passes(project, release):
    report = project.check(release)
    assert report.verdict == "pass", (report.mismatches, report.errors)
    assert restored(report) == 3


def test_renamed_class_is_an_error_naming_it_and_where_it_was_expected(project, release):
    custom_branch(project, cls="Scaling")
    report = project.check(release)
    assert report.verdict == "error"
    message, hint = report.errors[0]["message"], report.errors[0]["hint"]
    assert "'Scale'" in message and "'demo>Scale'" in message and "module 'layers'" in message
    assert "'demo>Scaling'" in message  # the likely new name
    assert "model.custom_objects" in hint


def test_changed_constructor_is_an_error_naming_the_class(project, release):
    custom_branch(project, arg="gain")
    report = project.check(release)
    assert report.verdict == "error"
    assert "does not rebuild" in report.errors[0]["message"]
    assert "Scale" in report.errors[0]["message"]


def test_missing_custom_objects_module_is_a_build_error(project, release):
    write_branch(project, MODEL.format(cls="Scale"), model_keys="  custom_objects: [layers_v2]\n")
    report = project.check(release)
    assert report.verdict == "error"
    assert "layers_v2" in report.errors[0]["message"]


LAMBDA_BRANCH = """\
import keras

keras.config.enable_unsafe_deserialization()  # the branch's own choice must not matter


def build():
    inputs = keras.Input((4,), name="x")
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(x))
"""


def _lambda_release(path: Path, marker: Path) -> None:
    """A `.keras` whose Lambda writes `marker` whenever its function runs."""
    import keras

    keras.backend.clear_session()
    function = eval(f"lambda t: (open({str(marker)!r}, 'a').write('ran'), t * 2.0)[1]")
    inputs = keras.Input((4,), name="x")
    x = keras.layers.Lambda(function, name="double")(inputs)
    keras.Model(inputs, keras.layers.Dense(3, name="out")(x)).save(str(path))
    marker.unlink()  # building the model ran it once


@pytest.fixture
def keep_safe_mode():
    """The Lambda branch turns unsafe deserialization on process-wide: undo it afterwards."""
    from keras.src.backend.common import global_state

    before = global_state.get_global_attribute("safe_mode_saving")
    yield
    global_state.set_global_attribute("safe_mode_saving", before)


def test_lambda_in_a_release_is_refused_and_never_executed(project, tmp_path, keep_safe_mode):
    import keras

    marker, release = tmp_path / "marker", tmp_path / "lambda.keras"
    _lambda_release(release, marker)
    data = inspect_checkpoint(release)
    assert any(c["class_name"] == "Lambda" for c in data["layer_classes"])
    write_branch(project, LAMBDA_BRANCH)
    report = project.check(release)
    assert report.verdict == "error"
    assert "refusing the Lambda layer(s) 'double'" in report.errors[0]["message"]
    assert "safe_mode" in report.errors[0]["message"]
    assert not marker.exists()
    # the marker does detect execution: an unsafe load runs the release's code
    keras.models.load_model(str(release), safe_mode=False)
    assert marker.read_text().startswith("ran")
