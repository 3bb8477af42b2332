"""Serving signatures: the release SavedModel's against the branch model's.

The release's come from its meta graph's `signature_def`. The branch's are made the
way the release was written: the branch model is written to a temporary SavedModel
with `model.export` (Keras ExportArchive), `tf.saved_model.save(model)` or, for a
`tf.Module`, `tf.saved_model.save(module, signatures=module.__call__)`, and read back
with the same code, so names, dtypes and shapes are TensorFlow's own.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from restore_gate.core.report import Mismatch, TensorSpec
from restore_gate.core.variables import BuiltModel
from restore_gate.errors import GateError, first_line
from restore_gate.formats.tensorflow import _protos as _tf_protos
from restore_gate.formats.tensorflow.saved_model_pb import parse_saved_model, serving_meta_graph
from restore_gate.judge.compare import pair_renames
from restore_gate.runtime import import_tensorflow

SERVING = "serving_default"
INIT_OP = "__saved_model_init_op"
EXPORT, SAVE, MODULE = "model.export", "tf.saved_model.save", "tf.Module"


def of_meta_graph(meta_graph: Any) -> dict[str, dict[str, Any]]:
    """{key: {method, inputs: {name: {dtype, shape, tensor}}, outputs: {...}}}."""
    return {
        key: {
            "method": sig.method_name,
            "inputs": {name: _tensor(t) for name, t in sorted(sig.inputs.items())},
            "outputs": {name: _tensor(t) for name, t in sorted(sig.outputs.items())},
        }
        for key, sig in sorted(meta_graph.signature_def.items())
        if key != INIT_OP
    }


def _tensor(info: Any) -> dict[str, Any]:
    dtype = _tf_protos.dtype_name(info.dtype) if info.dtype else "unknown"  # no TF needed
    shape = None if info.tensor_shape.unknown_rank else [
        None if d.size < 0 else int(d.size) for d in info.tensor_shape.dim
    ]
    return {"dtype": dtype, "shape": shape, "tensor": info.name}


def of_branch(built: BuiltModel, style: str) -> dict[str, dict[str, Any]] | None:
    """The branch model's signatures, written as `style` writes them; None if it has none."""
    tf = import_tensorflow("restore")
    model = built.model
    with tempfile.TemporaryDirectory(prefix="restore-gate-signature-") as folder:
        try:
            if _is_keras(model):
                _write_keras(tf, model, folder, style)
            else:
                function = model.__call__ if callable(model) else None  # a tf.function?
                if getattr(function, "input_signature", None) is None:
                    return None
                tf.saved_model.save(model, folder, signatures={SERVING: function})
        except Exception as exc:
            raise GateError(
                "restore",
                f"writing the branch model's serving signature ({style}) failed: "
                + first_line(exc),
                "the release is a SavedModel: the branch model must still export for "
                "serving; fix the model's call() or its inputs",
            ) from exc
        return of_meta_graph(serving_meta_graph(parse_saved_model(Path(folder)), Path(folder)))


def _is_keras(model: Any) -> bool:
    import keras

    return isinstance(model, keras.Model)


def _write_keras(tf: Any, model: Any, folder: str, style: str) -> None:
    if style == SAVE:
        tf.saved_model.save(model, folder)
    else:
        model.export(folder, format="tf_saved_model", verbose=False)


def compare(release: dict[str, dict], branch: dict[str, dict] | None) -> list[Mismatch]:
    """Mismatches of the `serving_default` signature (the one TF Serving calls)."""
    if SERVING not in release:
        return []
    ours = (branch or {}).get(SERVING)
    if ours is None:
        return [Mismatch(
            kind="unexpected", name=f"signature:{SERVING}", layer=f"signature:{SERVING}",
            hint="the release serves a `serving_default` signature, the branch model has "
            "none: give the model inputs (keras.Input) or, for a tf.Module, a __call__ "
            "tf.function with an input_signature; add `^signature:` to allow.unexpected if "
            "the model is no longer served",
        )]
    found: list[Mismatch] = []
    for side in ("inputs", "outputs"):
        found += _compare_side(side, release[SERVING][side], ours[side])
    return found


def _compare_side(side: str, saved: dict, branch: dict) -> list[Mismatch]:
    prefix = f"signature:{SERVING}/{side}"
    found = []
    for name in sorted(set(saved) & set(branch)):
        old, new = saved[name], branch[name]
        kind = "dtype" if old["dtype"] != new["dtype"] else (
            "shape" if not _same_shape(old["shape"], new["shape"]) else None)
        if kind:
            found.append(_entry(kind, f"{prefix}/{name}", old, new, _hint(kind, side, name)))
    gone = [_Spec(f"{prefix}/{n}", saved[n]) for n in sorted(set(saved) - set(branch))]
    new = [_Spec(f"{prefix}/{n}", branch[n]) for n in sorted(set(branch) - set(saved))]
    renames, new_left, gone_left = pair_renames(new, gone)
    for old_spec, new_spec in renames:
        found.append(_entry("rename", new_spec.name, old_spec.spec, new_spec.spec,
                            f"serving clients send/read `{old_spec.leaf}`, the branch calls it "
                            f"`{new_spec.leaf}`: keep the {side[:-1]} name (the keras.Input "
                            "name or the output dict key)"))
    for spec in gone_left:
        found.append(_entry("unexpected", spec.name, spec.spec, None,
                            f"the release serves {side[:-1]} `{spec.leaf}`, the branch model "
                            "no longer has it: serving clients break"))
    for spec in new_left:
        found.append(_entry("missing", spec.name, None, spec.spec,
                            f"the branch adds {side[:-1]} `{spec.leaf}` the release does not "
                            "serve: serving clients do not send or expect it"))
    return found


class _Spec:
    """A signature tensor in the shape `pair_renames` expects (name, shape, dtype)."""

    def __init__(self, name: str, spec: dict) -> None:
        self.name, self.spec = name, spec
        self.shape, self.dtype = spec["shape"], spec["dtype"]
        self.leaf = name.rsplit("/", 1)[-1]


def _same_shape(a: list | None, b: list | None) -> bool:
    return a == b


def _entry(kind: str, name: str, old: dict | None, new: dict | None, hint: str) -> Mismatch:
    return Mismatch(
        kind=kind, name=name, layer=f"signature:{SERVING}",
        key=(old or new or {}).get("tensor", ""),
        checkpoint=TensorSpec(old["shape"], old["dtype"]) if old else None,
        model=TensorSpec(new["shape"], new["dtype"]) if new else None,
        hint=hint,
    )


def _hint(kind: str, side: str, name: str) -> str:
    what = "dtype" if kind == "dtype" else "shape"
    return (f"the serving signature's {side[:-1]} `{name}` changed its {what}: clients of the "
            "released model send/expect the old one; restore it or release a new version")
