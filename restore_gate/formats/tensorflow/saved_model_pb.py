"""`saved_model.pb` / `.pbtxt` as protobuf messages, without TensorFlow (the messages are
declared in formats/tensorflow/_protos.py). Shared by the SavedModel adapter and the signatures it
compares, so neither imports the other for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from restore_gate.errors import GateError
from restore_gate.formats.tensorflow import _protos as _tf_protos


def parse_saved_model(path: Path) -> Any:
    """The `SavedModel` proto of a folder; a GateError naming the file if unreadable."""
    binary, text = path / "saved_model.pb", path / "saved_model.pbtxt"
    target = binary if binary.is_file() else text
    try:  # the messages are declared in formats/tensorflow/_protos.py: no TensorFlow needed
        data = target.read_bytes()
        if target == text:
            proto = _tf_protos.parse_text("SavedModel", data.decode("utf-8"))
        else:
            proto = _tf_protos.parse("SavedModel", data)
    except Exception as exc:  # DecodeError, ParseError, UnicodeDecodeError, OSError
        raise GateError(
            "inspect", f"cannot parse {target}: {type(exc).__name__}: {exc}",
            "the SavedModel is truncated or corrupted: re-download or re-export it",
        ) from exc
    return proto


def serving_meta_graph(proto: Any, path: Path) -> Any:
    """The meta graph tagged `serve` (else the only one); a GateError when there is none."""
    graphs = list(proto.meta_graphs)
    serving = [g for g in graphs if "serve" in g.meta_info_def.tags]
    if serving or len(graphs) == 1:
        return (serving or graphs)[0]
    size = (path / "saved_model.pb").stat().st_size if (path / "saved_model.pb").is_file() else 0
    reason = "is empty (0 bytes)" if size == 0 and not graphs else (
        "holds no meta graph" if not graphs else "has no meta graph tagged `serve`")
    raise GateError(
        "inspect", f"{path}/saved_model.pb {reason}: TensorFlow cannot load this SavedModel",
        "re-export the release with model.export() or tf.saved_model.save(); its variables "
        "can still be listed with `restore-gate inspect`",
    )
