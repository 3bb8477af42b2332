"""String golden inputs (issue 17): golden.npz stores them as plain uint8 bytes + int64
lengths, never as pickled object arrays, and reads them back exactly under the size caps."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from restore_gate.errors import GateError
from restore_gate.evaluation.baseline import load_golden, save_golden
from restore_gate.evaluation.evaluate import golden_inputs, model_input


def strings(*rows: list) -> np.ndarray:
    out = np.empty((len(rows), len(rows[0])), dtype=object)
    out[:] = rows
    return out


def test_string_inputs_round_trip_exactly_without_pickle(tmp_path: Path) -> None:
    text = strings([b"the cat\x00", b""], ["s\u00e4t", b"\x00on"])  # NULs, UTF-8, empty
    numbers = np.arange(4, dtype="float32").reshape(2, 2)
    path = tmp_path / "golden.npz"
    save_golden(path, {"text": text, "num": numbers}, ["out"], [np.ones((2, 3), "float32")])

    with np.load(path, allow_pickle=False) as data:  # no member needs pickle
        assert all(data[k].dtype != object for k in data.files), data.files
    inputs, names, outputs = load_golden(path)
    expected = [[b"the cat\x00", b""], ["s\u00e4t".encode(), b"\x00on"]]
    assert inputs["text"].tolist() == expected
    np.testing.assert_array_equal(inputs["num"], numbers)
    assert names == ["out"] and outputs[0].shape == (2, 3)


def test_a_tampered_string_encoding_is_refused_as_a_fetch_error(tmp_path: Path) -> None:
    path = tmp_path / "golden.npz"
    save_golden(path, strings([b"abc", b"de"]), ["out"], [np.ones((1, 1), "float32")])
    hostile = tmp_path / "hostile.npz"
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["lengths:input"] = np.asarray([[3, 99]])  # more bytes than the data holds
    np.savez(hostile, **arrays)
    with pytest.raises(GateError) as caught:
        load_golden(hostile)
    assert caught.value.stage == "fetch" and "'input'" in str(caught.value)
    assert zipfile.is_zipfile(hostile)


def test_golden_string_inputs_are_bounded_by_their_encoded_size() -> None:
    long = np.asarray([[("x" * 100_000).encode()]] * 200, dtype=object)
    picked = golden_inputs(None, (long, np.zeros(200)), samples=200)
    assert len(picked) < 200 and len(picked) * 100_000 <= 8 * 1024 * 1024


def test_string_arrays_become_string_tensors_alongside_numbers() -> None:
    import tensorflow as tf

    x = model_input({"text": strings([b"a"], [b"b"]), "num": np.zeros((2, 2), "float32")})
    assert x["text"].dtype == tf.string and isinstance(x["num"], tf.Tensor)
    plain = np.zeros((2, 2), "float32")
    assert model_input(plain) is plain  # numeric inputs pass through untouched


def test_a_lookup_layer_diverging_first_names_the_vocabulary() -> None:
    from restore_gate.present.diagnose import divergence_text

    found = {"layer": "string_lookup", "class": "StringLookup", "error": 1.0, "source": None}
    assert "vocabulary" in divergence_text(found)
    assert "vocabulary" not in divergence_text({**found, "class": "Dense"})
