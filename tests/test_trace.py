"""Drift traced to the first diverging layer: when the weights restore cleanly but outputs
drift, the report names the first layer (execution order) whose output differs from the
release's, with its source line. The expectation is computed with plain Keras: every
layer's output of the restored release and branch models on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Project
from test_drift_e2e import (
    CONFIG,
    DATA,
    FIRST,
    SECOND,
    SUBCLASSED,
    branch,
    make_bundle,
    tagged_release,
    train_and_save,
)

from restore_gate.core.report import validate_report
from restore_gate.evaluation.trace import DIMS, first_divergence, sketch
from restore_gate.present.diagnose import headline_sentences
from restore_gate.publish.annotations import annotations

TOL = 1e-5 + 1e-4  # the config's outputs tolerance, as a plain bound for the ground truth


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """test_drift_e2e's trained release (tagged v1): a bare .weights.h5 and its bundle."""
    project = tagged_release(tmp_path_factory.mktemp("trace") / "repo")
    weights = train_and_save(project, tf_checkpoint=False)
    return {"project": project, "weights": weights,
            "weights_bundle": make_bundle(project, weights, "weights.tar.gz")}


def plain_first_divergence(project: Project, release_source: str, weights, x) -> str:
    """Restore the release into its own model and into the branch's, with plain Keras, and
    return the first layer whose output differs (model.layers is execution order)."""
    import keras

    def outputs(source: str) -> dict[str, np.ndarray]:
        project.write("model.py", source)
        model = project.build()
        model.load_weights(weights)
        layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
        probe = keras.Model(model.inputs, [layer.output for layer in layers])
        return {layer.name: np.asarray(out) for layer, out in zip(layers, probe(x), strict=True)}

    branch_source = (project.root / "model.py").read_text()
    before, after = outputs(release_source), outputs(branch_source)
    project.write("model.py", branch_source)
    return next(name for name in after if name in before and not np.allclose(
        after[name], before[name], atol=TOL, rtol=0))


def eval_x(project: Project) -> np.ndarray:
    from restore_gate.branch.build import resolve_callable

    return resolve_callable("data:eval_data", project.root, [])()[0][:4]


@pytest.mark.parametrize(
    "change, layer, line",
    [({"activation": "sigmoid"}, "hidden", 18), ({"scale_call": "x * self.w + 1.0"}, "scale", 17),
     ({"rescale": "0.25"}, "rescaling", 16)],
    ids=["activation", "custom-call", "rescaling"])
def test_functional_drift_names_the_edited_layer(trained, change, layer, line):
    project = trained["project"]
    original = (project.root / "model.py").read_text()
    branch(trained, **change)
    expected = plain_first_divergence(project, original, trained["weights"], eval_x(project))
    assert expected == layer
    report = validate_report(project.check(trained["weights_bundle"]).to_dict(), "report")
    found = report["extra"]["divergence"]
    assert found["layer"] == layer and found["source"] == f"model.py:{line}"
    assert found["error"] > found["limit"]
    assert f"Outputs first diverge after `{layer}` (`model.py:{line}`): max abs error" in (
        headline_sentences(report))
    [note] = [a for a in annotations([report], None) if "drift starts here" in a]
    assert note.startswith(f"::error file=model.py,line={line},")
    branch(trained)


def test_unchanged_branch_records_no_divergence(trained):
    report = branch(trained).check(trained["weights_bundle"])
    assert report.verdict == "pass" and "divergence" not in report.extra


def test_the_release_rebuilt_from_its_tag_is_traced_too(trained):
    from restore_gate.pipeline.check import CheckOptions, run_check

    project = branch(trained, activation="sigmoid")
    report = run_check(CheckOptions(config=project.root / ".restore-gate.yml",
                                    checkpoint=str(trained["weights"]), quiet=True,
                                    baseline_ref="v1"))
    assert report.extra["baseline"] == "release code at v1"
    assert report.extra["divergence"]["layer"] == "hidden"
    branch(trained)


def test_subclassed_drift_names_the_sub_layer(tmp_path):
    import keras

    project = Project(tmp_path / "sub")
    project.write("data.py", DATA)
    project.write("model.py", SUBCLASSED.format(assignments=FIRST + SECOND))
    project.config(CONFIG)
    weights = train_and_save(project, tf_checkpoint=False)
    bundle = make_bundle(project, weights, "sub.tar.gz")
    project.write("model.py", SUBCLASSED.format(
        assignments=FIRST + SECOND.replace('"tanh"', '"sigmoid"')))
    keras.backend.clear_session()
    # plain Keras: the restored models' sub-layers called one after the other
    x = eval_x(project)
    outputs = {}
    for source in ("release", "branch"):
        if source == "release":
            project.write("model.py", SUBCLASSED.format(assignments=FIRST + SECOND))
        model = project.build()
        model.load_weights(weights)
        first = model._first(x)
        outputs[source] = [np.asarray(first), np.asarray(model._second(first))]
        project.write("model.py", SUBCLASSED.format(
            assignments=FIRST + SECOND.replace('"tanh"', '"sigmoid"')))
    assert np.allclose(*[o[0] for o in outputs.values()], atol=TOL)
    assert not np.allclose(*[o[1] for o in outputs.values()], atol=TOL)
    report = project.check(bundle)
    assert not report.mismatches and report.verdict == "fail"
    assert report.extra["divergence"]["layer"] == "second"
    assert report.extra["divergence"]["source"] == "model.py:10"


def test_large_outputs_are_sketched_the_same_way_on_both_sides():
    rng = np.random.default_rng(1)
    batch = rng.normal(size=(4, 10, 10, 3))
    first, projected = sketch(batch)
    again, _ = sketch(batch.copy())
    assert projected and first.shape == (4, DIMS) and np.array_equal(first, again)
    nudged = batch.copy()
    nudged[0, 3, 3, 1] += 0.5  # one element changed: its bucket moves by 0.5 * scale
    assert np.abs(sketch(nudged)[0] - first).max() == pytest.approx(0.5 / np.sqrt(300 / DIMS))
    small, raw = sketch(rng.normal(size=(4, 3)))
    assert not raw and small.shape == (4, 3)


def test_first_divergence_skips_new_layers_and_counts_nan_as_diverged():
    def rec(name, values):
        return {"name": name, "shape": [len(values)], "projected": False, "values": values}

    saved = [rec("a", [1.0, 2.0]), rec("b", [3.0, 4.0])]
    found = first_divergence(saved, [rec("a", [1.0, 2.0]), rec("new", [0.0]),
                                       rec("b", [3.0, 9.0])], 1e-5, 1e-4)
    assert (found.layer, found.error, found.compared, found.unmatched_before) == (
        "b", 5.0, 2, ("new",))
    assert first_divergence(saved, [rec("a", [1.0, float("nan")])], 1e-5, 1e-4).layer == "a"
    assert first_divergence(saved, saved, 1e-5, 1e-4) is None


def test_the_drift_annotation_comes_first_within_githubs_ten():
    from test_publish import make_report, shape

    report = make_report([shape(f"l{i}/kernel", f"l{i}", line=i + 1) for i in range(15)])
    report["extra"] = {"divergence": {"layer": "hidden", "source": "model.py:8", "error": 0.5}}
    lines = annotations([report], None)
    assert len(lines) == 10 and "drift starts here" in lines[0]
    assert lines[0].startswith("::error file=model.py,line=8,")
    assert "7 more mismatches" in lines[-1]


def test_tracing_leaves_the_model_as_it_was():
    import keras

    from restore_gate.evaluation.trace import fingerprints

    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(40, activation="relu", name="hidden")
    outputs = keras.layers.Dense(3, name="out")(hidden(inputs))
    model = keras.Model(inputs, outputs)
    x = np.ones((6, 4), "float32")
    before = np.asarray(model(x))
    records = fingerprints(model, x)
    assert [(r["name"], r["shape"], r["projected"]) for r in records] == [
        ("hidden", [40], True), ("out", [3], False)]
    assert len(records[0]["values"]) == 4 * DIMS and len(records[1]["values"]) == 4 * 3
    assert "call" not in vars(hidden) and np.array_equal(np.asarray(model(x)), before)


def test_a_drift_the_trace_cannot_place_says_why():
    """Issue 17: outputs drift but no first diverging layer is named: a notice says why."""
    from types import SimpleNamespace

    from restore_gate.core.report import DriftEntry
    from restore_gate.evaluation.baseline import Baseline
    from restore_gate.evaluation.measure import _trace

    def traced(fingerprints):
        drift = [DriftEntry(kind="output", name="out max abs error", baseline=0.0, value=0.5,
                            delta=0.5, threshold="atol=1e-05", ok=False)]
        notices: list[str] = []
        built = SimpleNamespace(model=None, source_of=lambda name: None)
        found = _trace(drift, notices, Baseline(source="bundle", fingerprints=fingerprints),
                       built, None, {"atol": 1e-5, "rtol": 1e-4})
        return SimpleNamespace(extra={"divergence": found} if found else {}, notices=notices)

    unfingerprinted = traced(None)
    assert "divergence" not in unfingerprinted.extra
    assert any("no per-layer fingerprints" in n for n in unfingerprinted.notices)
    assert not [n for n in traced([]).notices if "fingerprints (" in n]
