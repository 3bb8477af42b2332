"""No second copy of the weights: the walks hold references, verification streams slices.

Sizes are tiny; what is asserted is the structure that bounds memory at any size: the
pairing's optimizer entries are the optimizer's own variables (not numpy copies), slots are
created only when the release has state for them, verification reads bounded slices (numpy
allocations traced with tracemalloc) and never a whole value, and the raw rows of a V2
checkpoint equal what TensorFlow's own reader returns.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from conftest import functional_model, release_model, save_release

from restore_gate import formats
from restore_gate.branch.build import build_model
from restore_gate.core.checkpoint import OPTIMIZER
from restore_gate.errors import GateError
from restore_gate.formats import values
from restore_gate.settings.config import load_config

WIDE = functional_model(units=2048)


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("memory-release")
    model = release_model(base, WIDE)  # slots built: the files hold Adam's state
    bare = release_model(base / "bare", WIDE)  # compiled, never trained: no slots
    return {
        "h5": save_release(model, base / "h5", "h5"),
        "tf": save_release(model, base / "tf", "tf-opt"),
        "bare-tf": _write_unbuilt(bare, base / "bare-tf"),
    }


def _write_unbuilt(model, folder: Path) -> Path:
    import tensorflow as tf

    folder.mkdir(parents=True)
    return Path(tf.train.Checkpoint(model=model).write(str(folder / "ckpt")))


def _built(project, releases, kind, build_optimizer=True):
    project.write("model.py", WIDE)
    project.config()
    config = load_config(project.root / ".restore-gate.yml")
    info = formats.read(releases[kind])
    built = build_model(config) if build_optimizer else build_model(config, build_optimizer=False)
    return config, info, built


@pytest.mark.parametrize("kind", ["h5", "tf"])
def test_optimizer_pairs_with_its_own_variables_not_copies(project, releases, kind):
    _, info, built = _built(project, releases, kind)
    _, optimizer = formats.pair(info, built, {})
    own = {id(v) for v in built.optimizer.variables}
    assert len(optimizer.matched) == len(info.group(OPTIMIZER)) > 2
    assert all(id(m.obj) in own for _, m in optimizer.matched)  # Keras's walk gave numpy copies


def test_slots_are_built_only_for_a_release_holding_them(project, releases):
    from restore_gate.restore.restore import needs_optimizer_slots

    config, trained, built = _built(project, releases, "tf", build_optimizer=False)
    assert len(built.optimizer_variables) == 2  # iterations, learning rate: no slots yet
    assert needs_optimizer_slots(config, trained, built)
    untrained = formats.read(releases["bare-tf"])
    assert len(untrained.group(OPTIMIZER)) == 2
    assert not needs_optimizer_slots(config, untrained, built)
    report = project.check(releases["bare-tf"])
    assert report.verdict == "pass" and report.optimizer.status == "restored"


def _lazy(array: np.ndarray, reads: list[int]) -> values.LazyValue:
    def rows(start: int, stop: int) -> np.ndarray:
        part = array[start:stop].copy()
        reads.append(max(part.nbytes - part[:1].nbytes, 1))  # beyond one row: the chunk's
        return part

    def whole() -> np.ndarray:
        raise AssertionError("verification read the whole value")

    return values.LazyValue(array.shape, array.dtype.itemsize, rows, whole)


def test_verification_streams_bounded_slices(project, releases, monkeypatch):
    _, info, built = _built(project, releases, "h5")
    model, _ = formats.pair(info, built, {})
    monkeypatch.setattr(values, "CHUNK_BYTES", 4 << 10)
    saved = {c.key: np.asarray(m.obj.numpy()) for c, m in model.compatible}
    reads: list[int] = []
    assert values.verify(model, lambda key: _lazy(saved[key], reads)) == len(model.compatible)
    assert max(reads) <= 4 << 10 and len(reads) > 2 * len(saved)  # slices, never a value
    # a value that differs only in its last rows is still caught
    key = next(c.key for c, m in model.compatible if m.shape == [2048, 3])
    saved[key] = saved[key].copy()
    saved[key][-1] += 1
    with pytest.raises(GateError, match="does not hold the checkpoint's value"):
        values.verify(model, lambda k: _lazy(saved[k], []))


def test_h5_verification_allocates_slices_not_values(project, releases, monkeypatch):
    from restore_gate.formats.keras import v3 as keras_v3

    _, info, built = _built(project, releases, "h5")
    model, _ = formats.pair(info, built, {})
    formats.restore(info, built, {}, model, None)
    monkeypatch.setattr(values, "CHUNK_BYTES", 4 << 10)
    largest = max(int(np.prod(m.shape)) * 4 for _, m in model.compatible)
    with keras_v3.open_weights(info) as handle:
        tracemalloc.start()
        values.verify(model, lambda key: keras_v3.lazy_dataset(handle[key]))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert largest == 4 * 2048 * 4 and peak < largest  # the old check read each value whole


def test_raw_rows_equal_tensorflows_reader(releases):
    import tensorflow as tf

    from restore_gate.formats.tensorflow.raw import lazy_reader

    reader = tf.train.load_checkpoint(str(releases["tf"]))
    read = lazy_reader(releases["tf"], reader.get_tensor)
    lazy = 0
    for key, shape in reader.get_variable_to_shape_map().items():
        expected = reader.get_tensor(key)
        value = read(key)
        if isinstance(value, values.LazyValue):
            lazy += 1
            assert value.shape == tuple(shape)
            assert np.array_equal(value.rows(0, shape[0]), expected)
            assert np.array_equal(value.rows(1, shape[0]), expected[1:])
        else:
            assert np.array_equal(np.asarray(value), expected)
    assert lazy >= 4 * 3  # kernels and biases with their two Adam slots each
