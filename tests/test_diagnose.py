"""The headline diagnosis names the cause a reviewer acts on, from real checks.

Each case is a real `check` of a tiny branch against a release saved with plain
TF/Keras calls; the diagnosis is computed from the report the gate wrote.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SUBCLASSED_MODEL, Project, functional_model, release_model, save_release
from formats_helpers import FIXTURES, write_branch

from restore_gate.core.report import validate_report
from restore_gate.present.diagnose import diagnose, headline_sentences, scale_factor
from restore_gate.present.links import SourceLinks

WIDE = """\
import keras


def build(alpha=1.0):
    inputs = keras.Input((4,))
    x = keras.layers.Dense(int(64 * alpha), activation="relu", name="wide")(inputs)
    x = keras.layers.Dense(int(32 * alpha), activation="relu", name="narrow")(x)
    outputs = keras.layers.Dense(3, name="out")(x)
    return keras.Model(inputs, outputs)
"""
EXTRA_DENSE = '    x = keras.layers.Dense(8, name="extra")(x)\n'
TFK_BRANCH = """\
import keras


def build():
    inputs = keras.Input((4,), name="x")
    x = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    outputs = keras.layers.Dense(3, name="head")(x)
    return keras.Model(inputs, outputs)
"""


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("diagnose-release")
    saved = {"h5": save_release(release_model(base), base / "h5", "h5")}
    plain = release_model(base / "plain", functional_model(compiled=False))
    saved["tf"] = save_release(plain, base / "tf", "tf")
    saved["opt"] = save_release(release_model(base / "opt"), base / "opt", "tf-opt")
    wide = Project(base / "wide")
    wide.write("model.py", WIDE)
    saved["wide"] = save_release(wide.build(), base / "wide-h5", "h5")
    sub = Project(base / "sub")
    sub.write("sub.py", SUBCLASSED_MODEL.format(first="hidden"))
    saved["sub"] = save_release(sub.build("sub:build"), base / "sub-tf", "tf")
    return saved


def check(project: Project, code: str, release: Path, module: str = "model",
          model_keys: str = "") -> dict:
    write_branch(project, code, module, model_keys=model_keys)
    return validate_report(project.check(release).to_dict(), "report")


def kinds(report: dict) -> list[str]:
    return [f.kind for f in diagnose(report)]


def test_one_layers_output_size(releases, project):
    code = functional_model().replace("Dense(3, ", "Dense(5, ")
    report = check(project, code, releases["h5"])
    text = headline_sentences(report)
    assert kinds(report)[0] == "output-size"
    assert text.startswith("2 values of `out` changed shape: its size went 3 → 5, defined at "
                           "`model.py:7`.")


def test_a_width_change_followed_by_its_consumer(releases, project):
    report = check(project, functional_model(units=16), releases["h5"])
    assert kinds(report)[0] == "output-size"
    assert headline_sentences(report).startswith(
        "3 values in 2 layers changed shape: one size went 8 → 16, starting at `hidden`")


def test_a_uniform_width_multiplier_is_named_with_its_factor(releases, project):
    report = check(project, WIDE, releases["wide"], model_keys="  args: {alpha: 0.75}\n")
    assert kinds(report)[0] == "scale"
    assert headline_sentences(report).startswith(
        "5 values in 3 layers changed shape: every one narrowed its channels ×0.75 (e.g. "
        "`wide`: 64 → 48) — a width setting changed at `model.py:6` and 2 other lines.")


def test_dtype_change(releases, project):
    report = check(project, functional_model(dtype="float16"), releases["h5"])
    assert kinds(report)[0] == "dtype"
    assert "2 values of `hidden` changed dtype float32 → float16" in headline_sentences(report)


def test_inserted_layer_is_named_where_it_was_inserted(releases, project):
    report = check(project, functional_model(extra=EXTRA_DENSE, compiled=False), releases["tf"])
    assert kinds(report)[0] == "inserted"
    assert headline_sentences(report).startswith(
        "A layer was inserted at `model.py:7`: `extra` now takes the position (2 values) saved "
        "for `out`")


def test_removed_layer(releases, project):
    lines = functional_model(compiled=False).splitlines(keepends=True)
    code = "".join("    x = inputs\n" if 'name="hidden"' in line else line for line in lines)
    report = check(project, code, releases["tf"])
    assert kinds(report)[0] == "removed"
    assert "A layer was removed before `out`" in headline_sentences(report)


def test_renamed_attribute(releases, project):
    report = check(project, SUBCLASSED_MODEL.format(first="encoder"), releases["sub"], "sub")
    assert kinds(report)[0] == "renamed"  # the checkpoint's object path against Keras's name
    assert headline_sentences(report) == (
        "Renamed layer `model/hidden` → `net/dense`: 2 values of `net/dense` will not load "
        "under the new names, defined at `sub.py:7`.")


def test_optimizer_change_blocks_only_when_required(releases, project):
    sgd = functional_model().replace('optimizer="adam"', "optimizer=keras.optimizers.SGD("
                                     "momentum=0.9)")
    report = check(project, sgd, releases["opt"])
    [finding] = [f for f in diagnose(report) if f.kind == "optimizer"]
    assert finding.text.startswith("The optimizer changed adam → SGD")
    assert "blocks" not in finding.text
    write_branch(project, sgd, extra="checkpoint:\n  optimizer: required\n")
    required = validate_report(project.check(releases["opt"]).to_dict(), "report")
    [finding] = [f for f in diagnose(required) if f.kind == "optimizer"]
    assert "(this blocks: checkpoint.optimizer is required)" in finding.text


def test_keras2_writer_is_named(project):
    """A legacy .h5 from tf.keras loads by layer order in Keras 3 (a renamed layer still
    loads: tests/test_keras2_upgrade.py checks that against plain Keras): the headline names
    the writer's generation, and no rename is claimed."""
    write_branch(project, TFK_BRANCH)
    report = validate_report(project.check(FIXTURES / "tfk_weights.h5").to_dict(), "report")
    assert kinds(report) == ["version"]
    text = headline_sentences(report).replace("\\", "")
    assert text.startswith("Note: the checkpoint was written by Keras 2.21.0, this run uses "
                           "Keras 3")


def test_sources_become_links_to_the_head_commit(releases, project):
    report = check(project, functional_model(units=16), releases["h5"])
    links = SourceLinks("https://github.example", "octo/models", "a" * 40)
    assert (f"[`model.py:6`](https://github.example/octo/models/blob/{'a' * 40}/model.py#L6)"
            in headline_sentences(report, links))


def test_scale_factor_tolerates_rounding_but_not_mixed_directions():
    assert scale_factor([(576, 432), (96, 72)]) == (0.75, True)
    assert scale_factor([(576, 432), (40, 32), (72, 64)]) == (0.75, False)  # rounded to 8
    assert scale_factor([(576, 432), (40, 48)]) is None
    assert scale_factor([(576, 432), (40, 31)]) is None  # not a multiple of 8, not exact
    assert scale_factor([(8, 16)]) is None


def test_bare_checkpoint_pass_says_structure_only(releases, project):
    """A bare `.weights.h5` has no recorded outputs: the pass says drift was not measured, and
    no ✅ stands beside a row that compared nothing."""
    from restore_gate.present.comment import headline, render

    report = check(project, functional_model(), releases["h5"])
    assert report["verdict"] == "pass" and report["drift"]
    assert all(d["baseline"] is None for d in report["drift"])
    assert headline(report).endswith("(structure only: drift not measured)")
    rows = [line for line in render(report).splitlines() if "not measured" in line
            and line.startswith("| ")]
    assert rows and all(row.startswith("| ➖ |") for row in rows)


def test_same_keras_generation_gives_no_version_note():
    """A `.keras` saved by this run's Keras records generation "3": not a skew, no note (the
    bug: "Note: the checkpoint was written by 3."). A real other generation names its writer."""
    def report(written_by: dict) -> dict:
        return {"verdict": "pass", "summary": {"blocking": 0}, "mismatches": [], "drift": [],
                "notices": [], "errors": [], "runner": {"keras": "3.15.1"},
                "checkpoint": {"written_by": written_by}}

    same = report({"keras": "3.15.1", "keras_generation": "3"})
    assert "version" not in kinds(same)
    older = report({"keras": "2.15.0", "keras_generation": "2"})
    assert headline_sentences(older).replace("\\", "") == (
        "Note: the checkpoint was written by Keras 2.15.0, this run uses Keras 3.15.1.")
    unversioned = report({"keras_generation": "2"})
    assert headline_sentences(unversioned).replace("\\", "") == (
        "Note: the checkpoint was written by Keras 2, this run uses Keras 3.15.1.")
