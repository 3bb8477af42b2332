"""What the restore stage finds beyond the pairing: positional moves, version skew."""

from __future__ import annotations

from restore_gate.core.checkpoint import CheckpointInfo
from restore_gate.core.manifest import LAYOUT_SPACE
from restore_gate.core.pairing import Pairing
from restore_gate.core.report import Mismatch, TensorSpec
from restore_gate.core.variables import BuiltModel
from restore_gate.formats.generation import skew_notice
from restore_gate.release.source import CheckpointSource


def version_skew(written_by: dict, runner: dict) -> list[str]:
    """Notices when the release was written by another Keras generation (first: the
    Keras 2 -> 3 upgrade) or another TensorFlow/Keras minor version."""
    upgrade = skew_notice(written_by, runner.get("keras"))
    notices = [upgrade] if upgrade else []
    for package in ("tensorflow", "keras"):
        if upgrade and package == "keras":
            continue
        release, here = written_by.get(package), runner.get(package)
        if release and here and release.split(".")[:2] != here.split(".")[:2]:
            notices.append(f"Version skew: the release was written with {package} {release}, "
                           f"this run uses {here}.")
    return notices


def positional_moves(
    info: CheckpointInfo, source: CheckpointSource, model: Pairing, built: BuiltModel
) -> list[Mismatch]:
    """Values a positional format now loads into another variable than they were saved from.

    `.weights.h5` reaches a layer held only by Keras (a private attribute, a functional
    model's `layers`) by its position among layers of its class (`layers/dense_1`), so
    reordering such layers loads values into the wrong ones without any error. The
    release's layout (recorded by `snapshot`: file key -> the object path of the variable
    it was saved from, restore_gate/branch/identity.py) names each such move: a value moved only
    when the variable it loads into has another object path. Auto-generated layer names
    (`dense_1`) are no identity.
    """
    manifest = source.manifest or {}
    layout = manifest.get("layout") or {}
    if not layout or info.format not in ("keras-weights", "keras"):
        return []
    by_path = manifest.get("layout_space") == LAYOUT_SPACE
    released = set(layout.values())
    moves = []
    for ckpt, now in model.matched:
        before = layout.get(ckpt.key)
        # older bundles recorded names: comparable only where a name is its identity
        here = now.identity if by_path else now.name if now.name == now.identity else None
        if not before or not here or here == before or here not in released:
            continue
        moves.append(Mismatch(
            kind="rename", name=now.name, layer=now.layer, key=ckpt.key,
            checkpoint=None, model=TensorSpec(now.shape, now.dtype), checkpoint_name=before,
            source=built.source_of(now.layer),
            hint=f"the value at {ckpt.key} was saved from {before}, now loads into {here}"
                 f"{f' ({now.name})' if now.name != here else ''}: layers Keras reaches by "
                 "position (private attributes, a functional model's layers) were reassigned "
                 "or reordered, and a .weights.h5 matches them by position; restore the order "
                 "in which the layers are assigned, or release anew",
        ))
    return moves
