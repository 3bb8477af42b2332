"""Issue 17: the verdict and the named cause on the model families teams ship — text models
(TextVectorization / StringLookup + Embedding + LSTM/GRU, int token ids, dict inputs of
mixed dtypes), mixed precision, custom training loops' checkpoints, custom layers. Each test
computes its expectation with plain TF/Keras (families_helpers.plain_tf), then runs the gate
on the same release and asserts its verdict and its headline cause."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from families_helpers import (
    CONFIG,
    DENSE_DATA,
    FIRST,
    HEAD,
    LOOKUP_LAYER,
    LOOP_MODEL,
    MIXED_MODEL,
    ORDERED_MODEL,
    WORDS,
    affine_model,
    branch,
    explained,
    headline,
    make_release,
    plain_tf,
    text_data,
    text_model,
)

KINDS = ["tf", "h5", "keras"]
CHANGED_VOCAB = [WORDS[1], WORDS[0], *WORDS[2:]]  # two words swap ids: same sizes


@pytest.fixture(autouse=True)
def float32_policy():
    """Builders here set the global dtype policy: leave it float32 for every other test."""
    import keras

    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")


def text_release(tmp_path_factory, family: str):
    root = tmp_path_factory.mktemp(f"text-{family}") / "repo"
    return make_release(root, text_model(family), text_data(family), KINDS)


@pytest.fixture(scope="module")
def vectorize(tmp_path_factory):
    return text_release(tmp_path_factory, "vectorize")


@pytest.fixture(scope="module")
def lookup(tmp_path_factory):
    return text_release(tmp_path_factory, "lookup")


@pytest.fixture(scope="module")
def ids(tmp_path_factory):
    return text_release(tmp_path_factory, "ids")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    return text_release(tmp_path_factory, "dict")


def judged(release, kind: str, source: str, bundle: bool = True, config: str = CONFIG):
    """(plain TF's truth, the gate's report) for the branch `source` against the release."""
    project = branch(release, source, config)
    truth = plain_tf(project, kind, release.files[kind], release.inputs, release.outputs)
    checkpoint = release.bundle(kind) if bundle else release.files[kind]
    return truth, project.check(checkpoint)


def assert_verdict(report, truth) -> None:
    from restore_gate.core.report import validate_report

    validate_report(report.to_dict(), "the family test's report")  # new extras fit the schema
    assert report.verdict == truth.verdict, (
        f"plain TF: {truth.verdict} ({truth.why}); gate: {report.verdict}: "
        f"{headline(report)} | errors {report.errors}")


# 1. text models ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("family", ["vectorize", "lookup", "ids", "dict"])
def test_unchanged_text_model_passes(request, family, kind):
    release = request.getfixturevalue({"dict": "mixed"}.get(family, family))
    truth, report = judged(release, kind, text_model(family))
    assert truth.verdict == "pass", truth.why
    assert_verdict(report, truth)
    assert not report.errors


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("family", ["vectorize", "lookup", "dict"])
def test_changed_vocabulary_fails_naming_the_lookup_layer(request, family, kind):
    release = request.getfixturevalue({"dict": "mixed"}.get(family, family))
    truth, report = judged(release, kind, text_model(family, vocab=CHANGED_VOCAB))
    assert truth.verdict == "fail", truth.why  # restores silently; only outputs tell
    assert_verdict(report, truth)
    text = headline(report)
    assert "vocabulary" in text and f"`{LOOKUP_LAYER[family]}`" in text, text


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("family", ["vectorize", "lookup"])
def test_changed_units_fail_on_shape(request, family, kind):
    release = request.getfixturevalue(family)
    truth, report = judged(release, kind, text_model(family, units=6), bundle=False)
    assert truth.verdict == "fail", truth.why
    assert_verdict(report, truth)
    text = headline(report)
    layer = "gru" if family == "lookup" else "lstm"
    assert "changed shape" in text and layer in text, text


@pytest.mark.parametrize("kind", KINDS)
def test_harmless_text_refactor_passes(vectorize, kind):
    truth, report = judged(vectorize, kind, text_model("vectorize", head="classifier"))
    assert truth.verdict == "pass", truth.why
    assert_verdict(report, truth)


# 2. mixed precision -----------------------------------------------------------------------
def trained(model) -> None:
    """Two Adam steps with seeded gradients: real optimizer state (moments, iterations) and
    weights away from their initialisation, without compiling a training function."""
    import keras

    rng = np.random.default_rng(1)
    variables = model.trainable_variables
    model.optimizer.build(variables)
    for _ in range(2):
        grads = [keras.ops.convert_to_tensor(rng.normal(size=v.shape), dtype=v.dtype)
                 for v in variables]
        model.optimizer.apply(grads, variables)
    model.optimizer.learning_rate.assign(0.01)


@pytest.fixture(scope="module", params=["float32", "mixed_float16"])
def precision(request, tmp_path_factory):
    import keras

    root = tmp_path_factory.mktemp(f"precision-{request.param}") / "repo"
    try:
        release = make_release(root, MIXED_MODEL.format(policy=request.param), DENSE_DATA,
                               ["tf-opt", "h5", "keras"], prepare=trained)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return request.param, release


@pytest.mark.parametrize("kind", ["tf-opt", "h5", "keras"])
def test_mixed_precision_change_fails_naming_the_policy(precision, kind):
    policy, release = precision
    other = "float32" if policy == "mixed_float16" else "mixed_float16"
    truth, report = judged(release, kind, MIXED_MODEL.format(policy=other))
    assert truth.verdict == "fail", truth.why  # every variable is float32: only drift tells
    assert_verdict(report, truth)
    import keras

    now = {layer.name: layer.compute_dtype for layer in truth.model.layers
           if not isinstance(layer, keras.layers.InputLayer)}  # layers that compute
    changed = sorted(n for n, d in now.items() if release.compute_dtypes.get(n) not in (None, d))
    old, new = ("float32", "float16") if other == "mixed_float16" else ("float16", "float32")
    text = headline(report)
    assert (f"compute dtype {old} → {new} (mixed precision policy) in {len(changed)} layers"
            in text), (changed, text)
    assert "The optimizer changed" not in text  # LossScaleOptimizer follows from the policy
    divergence = (report.extra or {}).get("divergence")
    assert divergence or any("diverg" in n for n in report.notices), report.notices


def test_unchanged_mixed_precision_model_passes(precision):
    policy, release = precision
    truth, report = judged(release, "tf-opt", MIXED_MODEL.format(policy=policy))
    assert truth.verdict == "pass", truth.why
    assert_verdict(report, truth)


# 3. custom training loops: tf.train.Checkpoint(step=, model=, optimizer=, ema=) ----------
def loop_saver(children: tuple[str, ...]):
    """A custom loop's save: tf.train.Checkpoint with a step counter, the model, its
    optimizer and (if named) an EMA shadow model; `save` adds TF's `save_counter`."""

    def save(model, folder, kind):
        import keras
        import tensorflow as tf

        folder.mkdir(parents=True, exist_ok=True)
        parts = {"step": tf.Variable(40, dtype=tf.int64), "model": model,
                 "optimizer": model.optimizer}
        if "ema" in children:
            ema = keras.models.clone_model(model)
            ema.set_weights([w * 0.5 for w in model.get_weights()])
            parts["ema"] = ema
        return Path(tf.train.Checkpoint(**parts).save(str(folder / "ckpt")))
    return save


def loop_restore(child: str, with_ema: bool):
    """The branch's custom loop restoring the release: its own Checkpoint children."""

    def restore(model, path):
        import keras
        import tensorflow as tf

        model.optimizer.build(model.trainable_variables)
        parts = {"step": tf.Variable(0, dtype=tf.int64), child: model,
                 "optimizer": model.optimizer}
        if with_ema:
            parts["ema"] = keras.models.clone_model(model)
        tf.train.Checkpoint(**parts).restore(str(path)).expect_partial()
    return restore


def loop_release(tmp_path_factory, children: tuple[str, ...]):
    root = tmp_path_factory.mktemp("loop") / "repo"
    return make_release(root, LOOP_MODEL, DENSE_DATA, ["loop"], prepare=trained,
                        save=loop_saver(children))


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    """A release saved by a custom loop with step, model, optimizer and an EMA model."""
    return loop_release(tmp_path_factory, ("ema",))


@pytest.fixture(scope="module")
def loop_without_ema(tmp_path_factory):
    return loop_release(tmp_path_factory, ())


def loop_judged(release, child: str, with_ema: bool, config: str = CONFIG):
    project = branch(release, LOOP_MODEL, config)
    truth = plain_tf(project, "loop", release.files["loop"], release.inputs, release.outputs,
                     restore=loop_restore(child, with_ema))
    return truth, project.check(release.bundle("loop"))


def test_custom_loop_checkpoint_unchanged_passes(loop):
    truth, report = loop_judged(loop, "model", with_ema=True)
    assert truth.verdict == "pass", truth.why
    assert_verdict(report, truth)
    assert not [m for m in report.mismatches if not m.allowed], report.mismatches


def test_custom_loop_renamed_child_agrees_with_plain_tf_and_names_it(loop):
    config = CONFIG + "checkpoint:\n  root: {model: net}\n"
    truth, report = loop_judged(loop, "net", with_ema=True, config=config)
    assert_verdict(report, truth)  # plain TF restores every weight through the optimizer
    assert not [m.name for m in report.mismatches if "save_counter" in m.name or (
        m.kind == "unexpected" and not m.allowed)], report.mismatches
    words = explained(report)
    assert re.search(r"`?model`?[^\n]*`?net`?|`?net`?[^\n]*`?model`?", words) and \
        "root" in words, words


def test_custom_loop_ema_added_passes_or_is_named(loop_without_ema):
    truth, report = loop_judged(loop_without_ema, "model", with_ema=True)
    assert truth.verdict == "pass", truth.why
    assert_verdict(report, truth)
    blocking = [m for m in report.mismatches if not m.allowed]
    assert not blocking or "ema" in headline(report), (blocking, headline(report))


# also wrong in passing ----------------------------------------------------------------------
def test_refused_optimizer_slot_is_not_described_as_partly_restored(tmp_path):
    """A subclassed model assigning its layers in another order: every model value restores
    by attribute name, but Adam's slots are kept by position, so `m_0` of the release (4×8)
    meets an 8×3 slot, and plain TF refuses the optimizer's state."""
    release = make_release(tmp_path / "repo", ORDERED_MODEL.format(assignments=FIRST + HEAD),
                           DENSE_DATA, ["tf-opt"], prepare=trained)
    config = CONFIG + "checkpoint:\n  optimizer: required\n"
    truth, report = judged(release, "tf-opt", ORDERED_MODEL.format(assignments=HEAD + FIRST),
                           config=config)
    assert truth.verdict == "fail" and "refuses" in truth.why, truth.why
    assert_verdict(report, truth)
    words = explained(report)
    assert "at their initial values" not in words and not re.search(
        r"\d+ of \d+ optimizer values restore", words), words


@pytest.fixture(scope="module")
def affine(tmp_path_factory):
    def prepare(model):
        layer = model.get_layer("affine")
        layer.scale.assign([2.0, -1.0, 0.5, 3.0])
        layer.shift.assign([0.25, 0.5, -0.75, 1.0])

    root = tmp_path_factory.mktemp("affine") / "repo"
    return make_release(root, affine_model(), DENSE_DATA, KINDS, prepare=prepare)


@pytest.mark.parametrize("kind", KINDS)
def test_swapped_add_weight_values_are_not_a_renamed_layer(affine, kind):
    truth, report = judged(affine, kind, affine_model(scale_first=False))
    assert_verdict(report, truth)
    text = headline(report)
    assert "Renamed layer `affine` → `affine`" not in text, text
    if truth.verdict == "fail":
        assert "scale" in text and "shift" in text, text


def test_a_keras_release_with_an_auto_named_optimizer_keeps_its_state(tmp_path):
    """Keras names a session's second Adam `adam_1`; a `.keras` release saved so holds Adam's
    state all the same, and plain Keras loads it into the branch's `adam`."""
    import keras

    def prepare(model):
        model.compile(optimizer=keras.optimizers.Adam(name="adam_1"),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        trained(model)

    release = make_release(tmp_path / "repo", LOOP_MODEL, DENSE_DATA, ["keras"],
                           prepare=prepare)
    loaded = {}

    def restore(model, path):
        model.optimizer.build(model.trainable_variables)
        model.load_weights(str(path))
        loaded["iterations"] = int(model.optimizer.iterations.numpy())

    project = branch(release, LOOP_MODEL, CONFIG + "checkpoint:\n  optimizer: required\n")
    truth = plain_tf(project, "keras", release.files["keras"], release.inputs,
                     release.outputs, restore=restore)
    assert truth.verdict == "pass" and loaded["iterations"] == 2, (truth.why, loaded)
    report = project.check(release.bundle("keras"))
    assert_verdict(report, truth)
    assert report.optimizer.status == "restored", report.optimizer
    assert "adam_1 →" not in explained(report)
