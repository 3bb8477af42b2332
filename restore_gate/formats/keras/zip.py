"""A `.keras` zip: recognised by its name, refused before reading when a member would inflate
past the caps."""

from __future__ import annotations

from pathlib import Path

from restore_gate.limits import MAX_KERAS_JSON_BYTES, MAX_KERAS_WEIGHTS_BYTES, check_zip

WEIGHTS_ENTRY = "model.weights.h5"


def check_keras_zip(path: Path) -> None:
    """Refuse a `.keras` zip whose members would inflate past the caps, before reading any."""
    check_zip(path, {WEIGHTS_ENTRY: MAX_KERAS_WEIGHTS_BYTES}, MAX_KERAS_JSON_BYTES, "inspect",
              "a .keras file holds config.json, metadata.json and model.weights.h5 of "
              "ordinary sizes: re-create it with model.save()")


def is_keras_zip(path: Path) -> bool:
    return path.is_file() and path.suffix == ".keras"
