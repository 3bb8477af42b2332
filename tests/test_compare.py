"""The judge on metadata (no TensorFlow): mismatches, renames, `allow:` and the optimizer.

The format adapters' pairings of real checkpoints are tested end to end with TensorFlow in
test_check_tf.py and test_check_keras.py; here each rule of `find_mismatches` and
`judge_optimizer` is pinned field by field, so a change in any of them is seen in seconds.
"""

from __future__ import annotations

import pytest

from restore_gate.branch.build import BuiltModel, ModelVariable
from restore_gate.core.checkpoint import CkptVariable
from restore_gate.core.report import Mismatch, OptimizerState, TensorSpec
from restore_gate.judge.compare import Pairing, find_mismatches, judge_optimizer, pair_renames

NO_ALLOW = {"missing": [], "unexpected": []}


def var(name: str, shape=(4, 8), dtype: str = "float32", identity: str | None = None):
    return ModelVariable(name, name.rsplit("/", 1)[0], list(shape), dtype, object(),
                         identity=identity)


def value(name: str, shape=(4, 8), dtype: str = "float32", identity: str | None = None):
    ckpt = CkptVariable(name, name.rsplit("/", 1)[0], f"{name}/.ATTRIBUTES/VARIABLE_VALUE",
                        list(shape), dtype)
    ckpt.identity = identity
    return ckpt


def built(optimizer=None, sources=None, optimizer_values: int = 0) -> BuiltModel:
    return BuiltModel(None, optimizer, [], [var(f"opt/{i}") for i in range(optimizer_values)],
                      sources or {"hidden": "model.py:7", "out": "model.py:9"})


def spec(shape=(4, 8), dtype="float32") -> TensorSpec:
    return TensorSpec(list(shape), dtype)


def test_a_clean_pairing_has_no_mismatch():
    pairing = Pairing(matched=[(value("hidden/kernel"), var("hidden/kernel"))])
    assert pairing.clean and find_mismatches(pairing, built(), NO_ALLOW) == []


def test_shape_then_dtype_mismatches_field_by_field():
    pairing = Pairing(matched=[
        (value("hidden/kernel"), var("hidden/kernel", (4, 16))),
        (value("out/bias", (3,)), var("out/bias", (3,), "float16")),
        (value("out/kernel", (8, 3), "int8"), var("out/kernel", (16, 3), "float16")),
    ])
    assert not pairing.clean and len(pairing.compatible) == 0
    shape, dtype, both = find_mismatches(pairing, built(), NO_ALLOW)
    assert shape == Mismatch(
        "shape", "hidden/kernel", "hidden", "hidden/kernel/.ATTRIBUTES/VARIABLE_VALUE",
        spec(), spec((4, 16)), False,
        "saved as (4, 8), the branch builds (4, 16): restore the layer's units/filters/kernel "
        "size/input size, or release a new checkpoint", "model.py:7")
    assert dtype == Mismatch(
        "dtype", "out/bias", "out", "out/bias/.ATTRIBUTES/VARIABLE_VALUE", spec((3,)),
        spec((3,), "float16"), False,
        "saved as float32, the branch creates float16: set the layer's dtype (or the "
        "mixed-precision policy) back to float32", "model.py:9")
    assert both.kind == "shape"  # a shape change is named first
    assert shape.blocking and dtype.blocking


def test_a_value_saved_from_another_variable_names_the_move():
    pairing = Pairing(matched=[(value("dense_1/kernel", identity="dense_1/kernel"),
                                var("dense_2/kernel", (4, 16), identity="dense_2/kernel"))])
    [moved] = find_mismatches(pairing, built(), NO_ALLOW)
    assert moved.checkpoint_name == "dense_1/kernel" and moved.name == "dense_2/kernel"
    assert moved.hint.startswith("the checkpoint value at this position was saved from "
                                 "`dense_1/kernel`: a layer was inserted")
    same = Pairing(matched=[(value("dense_1/0", identity=None),
                             var("dense_1/kernel", (4, 16), identity="dense_1/kernel"))])
    [plain] = find_mismatches(same, built(), NO_ALLOW)
    assert plain.checkpoint_name is None and plain.hint.startswith("saved as (4, 8)")


def test_renames_pair_the_most_similar_name_of_the_same_spec():
    missing = [var("encoder/kernel"), var("encoder/bias", (8,)), var("head/kernel", (2, 2))]
    unexpected = [value("dense_1/bias", (8,)), value("dense_1/kernel"),
                  value("dense_9/kernel", (8, 4)), value("encoder/gamma")]
    renames, still_missing, left = pair_renames(missing, unexpected)
    assert [(c.name, m.name) for c, m in renames] == [
        ("dense_1/kernel", "encoder/kernel"), ("dense_1/bias", "encoder/bias")]
    assert [m.name for m in still_missing] == ["head/kernel"]
    assert [c.name for c in left] == ["dense_9/kernel", "encoder/gamma"]  # the leaf wins
    dtype_differs = pair_renames([var("a/kernel")], [value("b/kernel", dtype="float16")])
    assert dtype_differs[0] == [] and len(dtype_differs[1]) == len(dtype_differs[2]) == 1


def test_rename_missing_and_unexpected_with_hints_allow_and_sources():
    pairing = Pairing(missing=[var("encoder/kernel"), var("extra/bias", (5,))],
                      unexpected=[value("hidden/kernel"), value("gone/bias", (7,))])
    rename, missing, unexpected = find_mismatches(
        pairing, built(sources={"encoder": "model.py:3", "gone": "model.py:5"}), NO_ALLOW)
    assert rename == Mismatch(
        "rename", "encoder/kernel", "encoder", "hidden/kernel/.ATTRIBUTES/VARIABLE_VALUE",
        spec(), spec(), False,
        "probably `hidden/kernel` renamed to `encoder/kernel`: it will not load under the new "
        "name; keep the old layer/attribute name or map the old name when restoring",
        "model.py:3", "hidden/kernel")
    assert missing == Mismatch(
        "missing", "extra/bias", "extra", "", None, spec((5,)), False,
        "no value in the checkpoint, so it keeps its initial value: a new or renamed layer; "
        "add it to `allow.missing` if it is meant to start fresh", None)
    assert unexpected == Mismatch(
        "unexpected", "gone/bias", "gone", "gone/bias/.ATTRIBUTES/VARIABLE_VALUE",
        spec((7,)), None, False,
        "saved in the checkpoint but used by no variable of the branch model: a removed or "
        "renamed layer; add it to `allow.unexpected` if it is meant to be dropped",
        "model.py:5")


@pytest.mark.parametrize("allow, allowed", [
    ({"missing": ["^extra/"], "unexpected": []}, [False, True, False]),
    ({"missing": [], "unexpected": ["gone"]}, [False, False, True]),
    ({"missing": ["encoder"], "unexpected": []}, [False, False, False]),  # a rename needs both
    ({"missing": ["encoder", "extra"], "unexpected": ["hidden", "gone"]}, [True, True, True]),
])
def test_allow_patterns(allow, allowed):
    pairing = Pairing(missing=[var("encoder/kernel"), var("extra/bias", (5,))],
                      unexpected=[value("hidden/kernel"), value("gone/bias", (7,))])
    assert [m.allowed for m in find_mismatches(pairing, built(), allow)] == allowed


def test_extra_entries_from_adapters_follow_allow_too():
    extra = [Mismatch("missing", "serving/x", "serving"), Mismatch("unexpected", "sig/y", "sig"),
             Mismatch("rename", "sig/z", "sig"), Mismatch("signature", "serving", "serving")]
    pairing = Pairing(extra=extra)
    allow = {"missing": ["serving/x", "sig/z"], "unexpected": ["sig/y"]}
    found = find_mismatches(pairing, built(), allow)
    assert found == extra and [m.allowed for m in found] == [True, True, False, False]
    everything = {"missing": ["."], "unexpected": ["."]}
    assert [m.allowed for m in find_mismatches(pairing, built(), everything)] == [
        True, True, True, False]  # a changed signature is never allowed by a pattern


def test_adapter_notes_and_causes_replace_the_generic_hints():
    model = var("encoder/kernel")
    pairing = Pairing(missing=[model, var("new/bias", (5,))],
                      unexpected=[value("hidden/kernel"), value("gone/bias", (7,))],
                      notes={id(model.obj): "the Keras 2 file keeps it under hidden"})
    rename, missing, unexpected = find_mismatches(pairing, built(), NO_ALLOW)
    assert rename.hint == "saved at `hidden/kernel`; the Keras 2 file keeps it under hidden"
    assert missing.hint.startswith("no value in the checkpoint")
    pairing.cause = "upgraded from Keras 2: hidden/kernel moved"
    pairing.notes = {}
    rename, missing, unexpected = find_mismatches(pairing, built(), NO_ALLOW)
    assert rename.hint == pairing.cause  # names the saved path already
    assert missing.hint == unexpected.hint == pairing.cause


def test_a_rename_read_from_another_object_path_names_both_holders():
    model = var("encoder/kernel")
    pairing = Pairing(missing=[model], unexpected=[value("enc/kernel")],
                      paths={id(model.obj): "model/encoder/kernel"})
    [rename] = find_mismatches(pairing, built(), NO_ALLOW)
    assert rename.hint.startswith("saved at `enc/kernel`, the branch reads this variable from "
                                  "`model/encoder/kernel`: probably `enc` renamed to "
                                  "`model/encoder`")
    same_name = Pairing(missing=[var("dense/kernel")], unexpected=[value("dense/kernel")])
    [moved] = find_mismatches(same_name, built(), NO_ALLOW)
    assert moved.hint.startswith("saved under another object path (dense/kernel): a layer")
    assert moved.checkpoint_name is None  # the same name is no rename


class Adam:
    name = "adam"


class SGD:
    name = "SGD"


def judged(policy, ckpt_type, values, optimizer, pairing=None, optimizer_values=3):
    return judge_optimizer(policy, ckpt_type, [value(f"o/{i}") for i in range(values)],
                           built(optimizer, optimizer_values=optimizer_values), pairing)


def test_optimizer_ignored_absent_new_and_lost():
    assert judged("ignore", "Adam", 3, Adam()) == OptimizerState(
        "ignored", "ignore", "Adam", 3, "Adam", 3, 0, True,
        "optimizer state not checked (checkpoint.optimizer: ignore)")
    assert judged("required", None, 0, None, optimizer_values=0) == OptimizerState(
        "absent", "required", None, 0, None, 0, 0, False,
        "neither the checkpoint nor the model has an optimizer")
    assert judged("warn", None, 0, None, optimizer_values=0) == OptimizerState(
        "absent", "warn", ok=True)
    new = judged("required", None, 0, Adam())
    assert (new.status, new.ok, new.hint) == (
        "new", False, "the checkpoint holds no optimizer state; training restarts its moments")
    assert judged("warn", None, 0, Adam()).ok
    lost = judged("required", "Adam", 3, None)
    assert (lost.status, lost.ok) == ("lost", False)
    assert lost.hint.startswith("the checkpoint holds optimizer state but the branch model")


def test_optimizer_restored_changed_type_and_partly_restored():
    clean = Pairing(matched=[(value("o/0"), var("o/0")), (value("o/1"), var("o/1"))])
    restored = judged("required", "adam", 2, Adam(), clean)
    assert (restored.status, restored.restored_values, restored.ok, restored.hint) == (
        "restored", 2, True, "")
    assert judged("required", "Adam", 2, Adam(), clean).status == "restored"  # by type name
    other = judged("required", "SGD", 2, Adam(), clean)
    assert (other.status, other.ok) == ("changed", False)
    assert other.hint.startswith("optimizer changed from SGD to Adam: its state")
    assert judged("warn", "SGD", 2, Adam(), clean).ok
    partly = Pairing(matched=[(value("o/0"), var("o/0"))],
                     unexpected=[value("o/1"), value("o/2")])
    changed = judged("required", None, 3, Adam(), partly)
    assert (changed.status, changed.restored_values, changed.ok) == ("changed", 1, False)
    assert changed.hint.startswith("1 of 3 optimizer values restore: its slots follow")
    # a slot of another shape: TF and Keras raise, so nothing restores (issue 17)
    clash = Pairing(matched=[(value("o/0"), var("o/0")), (value("o/1", (2,)), var("o/1"))])
    refused = judged("required", None, 2, Adam(), clash)
    assert (refused.status, refused.restored_values, refused.ok) == ("changed", 0, False)
    assert refused.hint.startswith("TensorFlow refuses to restore the optimizer state: `o/1` "
                                   "was saved (2,)"), refused.hint
    partly.cause = "the optimizer was built with amsgrad"
    assert judged("warn", "adam", 3, Adam(), partly).hint == partly.cause
    unpaired = judged("required", "adam", 3, Adam(), None)
    assert (unpaired.status, unpaired.restored_values) == ("changed", 0)
    assert judged("required", "sgd", 1, SGD(), clean).status == "restored"


def test_notes_for_missing_variables_and_renames_after_an_unpaired_one():
    model = var("new/bias", (5,))
    pairing = Pairing(missing=[model], notes={id(model.obj): "a head added on purpose"})
    [missing] = find_mismatches(pairing, built(), NO_ALLOW)
    assert missing.hint == "a head added on purpose"
    renames, still, _ = pair_renames([var("x/a", (9,)), var("y/kernel")], [value("z/kernel")])
    assert [m.name for _, m in renames] == ["y/kernel"] and [m.name for m in still] == ["x/a"]


class Custom:
    def __init__(self, name: str) -> None:
        self.name = name


def test_same_optimizer_by_type_or_by_name():
    from restore_gate.judge.compare import same_optimizer

    assert not same_optimizer(None, built(Adam()))
    assert not same_optimizer("adam", built(None))
    assert same_optimizer("ADAM", built(Adam()))
    assert same_optimizer("custom", built(Custom("Other")))  # its type's name
    assert same_optimizer("my_adamw", built(Custom("My_AdamW")))  # its own name
    assert not same_optimizer("sgd", built(Custom("My_AdamW")))
    assert same_optimizer("sgd", built(SGD()))
    nameless = type("Adam", (), {})()  # an optimizer object without a `name`
    assert same_optimizer("adam", built(nameless))
    assert not same_optimizer("none", built(nameless))
    # Keras auto-names a session's second Adam `adam_1`: still Adam (issue 17)
    assert same_optimizer("adam_1", built(Adam()))
    assert not same_optimizer("sgd_1", built(Adam()))
