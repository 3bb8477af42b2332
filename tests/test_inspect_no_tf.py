"""`inspect` without TensorFlow: its readers (formats/tensorflow/: index.py, _protos.py)
against TensorFlow's own, on checkpoints written here by plain TF/Keras calls and on the
real artifacts in tests/data/external/testdata.

The ground truth is TensorFlow: `tf.train.load_checkpoint` (shape and dtype maps, the
object graph's bytes), TF's generated protobuf classes and descriptors, `tf.dtypes`; and
the whole `inspect --json` output computed with those readers swapped in, compared to a
`restore-gate inspect --json` run in a process where `import tensorflow` fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from formats_helpers import FIXTURES, SERVING, TESTDATA, needs_testdata

from restore_gate.cli import main
from restore_gate.commands.inspect import inspect_checkpoint, to_json
from restore_gate.formats.tensorflow import (
    _protos as _tf_protos,
)
from restore_gate.formats.tensorflow import (
    _table,
)
from restore_gate.formats.tensorflow import (
    files as tf_files,
)
from restore_gate.formats.tensorflow import (
    index as tf_index,
)

pytestmark = needs_testdata
SAVED_MODELS = sorted(str(p.parent.relative_to(SERVING))
                      for p in SERVING.glob("*/*/saved_model.pb"))
V1_EXPORT = "bad_half_plus_two/00000123"
NO_VARIABLES = TESTDATA / "tensorflow-serving/batching/testdata/matrix_half_plus_two/1"


def _keras_model():
    import keras

    keras.backend.clear_session()
    x = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(x)
    model = keras.Model(x, keras.layers.Dense(3, name="out")(hidden))
    model.compile(optimizer="adam", loss="mse")
    model.fit(keras.ops.ones((4, 4)), keras.ops.ones((4, 3)), verbose=0)  # Adam slots
    return model


def _module():
    """A tf.Module holding every dtype a variable can have, unnamed duplicates, a list."""
    import tensorflow as tf

    module = tf.Module()
    module.f16 = tf.Variable(tf.ones([2, 3], tf.float16), name="half")
    module.bf16 = tf.Variable(tf.ones([5], tf.bfloat16))
    module.f64 = tf.Variable(tf.ones([1, 1, 2], tf.float64))
    module.i64 = tf.Variable(tf.constant(7, tf.int64))
    module.u8 = tf.Variable(tf.zeros([3], tf.uint8))
    module.flag = tf.Variable(True)
    module.text = tf.Variable(["a", "bc"])
    module.c64 = tf.Variable(tf.zeros([2], tf.complex64))
    module.blocks = [tf.Variable(tf.zeros([i + 1])) for i in range(3)]  # all named "Variable"
    return module


def _long_names(count: int = 300):
    """Keys long enough to spread the index over several data blocks."""
    import tensorflow as tf

    module = tf.Module()
    for i in range(count):
        setattr(module, f"v{i:03d}_" + "x" * 900, tf.Variable(float(i)))
    return module


def _saver(folder: Path, version: str) -> Path:
    """tf.compat.v1 Saver: Adam slots, global_step, a partitioned variable, with .meta."""
    import tensorflow as tf

    v1 = tf.compat.v1
    folder.mkdir(parents=True)
    graph = tf.Graph()
    with graph.as_default(), v1.Session() as session:
        with v1.variable_scope("dense"):
            kernel = v1.get_variable("kernel", [4, 8])
            bias = v1.get_variable("bias", [8])
        v1.get_variable("embedding", [10, 4], partitioner=v1.fixed_size_partitioner(3))
        step = v1.train.get_or_create_global_step()
        train = v1.train.AdamOptimizer().minimize(tf.reduce_sum(kernel) + tf.reduce_sum(bias),
                                                  global_step=step)
        saver = v1.train.Saver(write_version=getattr(v1.train.SaverDef, version))
        session.run(v1.global_variables_initializer())
        session.run(train)
        return Path(saver.save(session, str(folder / "model"), global_step=step))


def _big_v1(folder: Path) -> Path:
    """A V1 file holding a 12 MiB tensor."""
    import tensorflow as tf

    v1 = tf.compat.v1
    folder.mkdir(parents=True)
    with tf.Graph().as_default(), v1.Session() as session:
        v1.get_variable("a_big", initializer=tf.ones([3 << 20]))
        v1.get_variable("b_small", [2, 2], tf.float64)
        saver = v1.train.Saver(write_version=v1.train.SaverDef.V1)
        session.run(v1.global_variables_initializer())
        return Path(saver.save(session, str(folder / "model"), write_meta_graph=False))


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Checkpoints and SavedModels written by plain TF/Keras calls."""
    import tensorflow as tf

    base = tmp_path_factory.mktemp("no-tf")
    model = _keras_model()
    found = {"tf-opt": Path(tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(
        str(base / "tf-opt" / "ckpt")))}
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(base / "manager"),
                                         max_to_keep=2)
    manager.save()
    manager.save()
    found["manager"] = base / "manager"
    found["bundle"] = base / "release.tar.gz"  # a bare archive of the manager folder
    with tarfile.open(found["bundle"], "w:gz") as tar:
        tar.add(found["manager"], arcname="checkpoint")
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=64)
    found["sharded"] = Path(tf.train.Checkpoint(model=model).write(
        str(base / "sharded" / "ckpt"),
        options=tf.train.CheckpointOptions(experimental_sharding_callback=policy)))
    module = _module()
    found["dtypes"] = Path(tf.train.Checkpoint(module=module).write(str(base / "dtypes" / "c")))
    found["long-names"] = Path(tf.train.Checkpoint(m=_long_names()).write(
        str(base / "long" / "ckpt")))
    found["tf1-v2"] = _saver(base / "tf1-v2", "V2")
    found["tf1-v1"] = _saver(base / "tf1-v1", "V1")
    found["tf1-v1-big"] = _big_v1(base / "tf1-v1-big")
    tf.saved_model.save(model, str(base / "saved"))
    found["saved-model"] = base / "saved"
    model.export(str(base / "export"), format="tf_saved_model", verbose=False)
    found["export"] = base / "export"
    tf.saved_model.save(module, str(base / "module-saved"))
    found["module-saved"] = base / "module-saved"
    found["pbtxt"] = _as_pbtxt(SERVING / "saved_model_half_plus_two_tf2_cpu/00000123",
                               base / "pbtxt")
    return found


def _as_pbtxt(source: Path, target: Path) -> Path:
    """The same SavedModel with its graph as saved_model.pbtxt (TF's text format of it)."""
    from google.protobuf import text_format
    from tensorflow.core.protobuf import saved_model_pb2

    shutil.copytree(source, target)
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((target / "saved_model.pb").read_bytes())
    (target / "saved_model.pbtxt").write_text(text_format.MessageToString(proto))
    (target / "saved_model.pb").unlink()
    return target


def _all_paths(written: dict[str, Path]) -> dict[str, Path]:
    paths = dict(written)
    paths.update({f"serving:{name}": SERVING / name for name in [*SAVED_MODELS, V1_EXPORT]})
    paths["serving:matrix_half_plus_two"] = NO_VARIABLES
    paths["keras:nested"] = TESTDATA / "keras" / "pre_pr22362_nested_container.keras"  # and
    paths["keras-h5"] = FIXTURES / "tfk_model.h5"  # the HDF5 formats: no TensorFlow either
    return paths


def _checkpoint_prefixes(written: dict[str, Path]) -> dict[str, Path]:
    """Every checkpoint prefix among the cases (SavedModels: their variables/)."""
    found = {}
    for name, path in _all_paths(written).items():
        prefix = path / "variables" / "variables"
        if Path(f"{prefix}.index").is_file():
            found[name] = prefix
        elif not (path / "saved_model.pb").exists() and tf_files.find_prefix(path):
            found[name] = tf_files.find_prefix(path)
    return found


# --- TensorFlow's readers, for the comparison --------------------------------------------


def tf_listing(prefix: Path) -> tf_index.Listing:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(prefix))
    shapes = {k: list(v) for k, v in reader.get_variable_to_shape_map().items()}
    return tf_index.Listing(
        shapes=shapes,
        dtypes={k: v.name for k, v in reader.get_variable_to_dtype_map().items()},
        object_graph=reader.get_tensor(tf_index.GRAPH_KEY) if tf_index.GRAPH_KEY in shapes
        else None,
    )


def tf_classes() -> dict[str, type]:
    from tensorflow.core.protobuf import (
        meta_graph_pb2,
        saved_model_pb2,
        tensor_bundle_pb2,
        trackable_object_graph_pb2,
    )
    from tensorflow.core.util import saved_tensor_slice_pb2
    from tensorflow.python.keras.protobuf import saved_metadata_pb2

    return {
        "SavedModel": saved_model_pb2.SavedModel,
        "MetaGraphDef": meta_graph_pb2.MetaGraphDef,
        "TrackableObjectGraph": trackable_object_graph_pb2.TrackableObjectGraph,
        "SavedMetadata": saved_metadata_pb2.SavedMetadata,
        "BundleHeaderProto": tensor_bundle_pb2.BundleHeaderProto,
        "BundleEntryProto": tensor_bundle_pb2.BundleEntryProto,
        "SavedTensorSlices": saved_tensor_slice_pb2.SavedTensorSlices,
    }


def tf_dtype_name(number: int) -> str:
    import tensorflow as tf

    try:
        return tf.dtypes.as_dtype(number).name
    except TypeError:
        return f"dtype#{number}"


@pytest.fixture
def with_tf_readers(monkeypatch):
    """Swap TensorFlow's own readers in for the TF-free ones (what inspect did before)."""
    classes = tf_classes()
    monkeypatch.setattr(tf_index, "list_checkpoint", tf_listing)
    monkeypatch.setattr(_tf_protos, "message", classes.__getitem__)
    monkeypatch.setattr(_tf_protos, "dtype_name", tf_dtype_name)


# --- the readers against TensorFlow's ----------------------------------------------------


def test_every_listing_matches_tensorflows_reader(written):
    prefixes = _checkpoint_prefixes(written)
    assert {"tf-opt", "manager", "sharded", "dtypes", "long-names", "tf1-v1", "tf1-v1-big",
            "tf1-v2", "saved-model", "export", "serving:" + V1_EXPORT} <= set(prefixes)
    for name, prefix in prefixes.items():
        assert tf_index.list_checkpoint(prefix) == tf_listing(prefix), name


def test_the_written_cases_cover_what_the_table_format_allows(written):
    """Several shards, several data blocks, partitioned variables, snappy blocks (TF 1.x)."""
    import tensorflow as tf

    sharded = sorted(written["sharded"].parent.glob("ckpt.data-*"))
    assert len(sharded) > 1
    with Path(f"{written['long-names']}.index").open("rb") as handle:
        size = Path(handle.name).stat().st_size
        assert len(_table.block_handles(handle, size)) > 1
    rows = _rows(Path(f"{written['tf1-v2']}.index"))
    assert any(key.startswith(b"\0") for key, _ in rows)  # the partitioned variable's slices
    assert [list(v) for k, v in tf.train.list_variables(str(written["tf1-v2"]))
            if k == "embedding"] == [[10, 4]]
    big = written["tf1-v1-big"]
    with big.open("rb") as handle:  # the V1 metadata has a block of its own: read alone
        first_block = _table.block_handles(handle, big.stat().st_size)[0][1]
    assert first_block < 1024 and big.stat().st_size > 12 << 20
    kinds = {_block_kinds(SERVING / name / "variables/variables.index")
             for name in SAVED_MODELS}
    assert (1,) in kinds and (0,) in kinds  # TF 1.x wrote snappy index blocks, TF 2 does not


def _rows(index: Path) -> list[tuple[bytes, bytes]]:
    with index.open("rb") as handle:
        return _table.read_table(handle, index.stat().st_size, limit=1 << 30)


def _block_kinds(index: Path) -> tuple[int, ...]:
    data = index.read_bytes()
    (_, _), pos = _table.block_handle(data[-48:], 0)
    (offset, size), _ = _table.block_handle(data[-48:], pos)
    kinds = []
    for _, value in _table._block_entries(data[offset:offset + size]):
        (start, length), _ = _table.block_handle(value, 0)
        kinds.append(data[start + length])
    return tuple(sorted(set(kinds)))


def test_declared_messages_match_tensorflows_descriptors():
    classes = tf_classes()
    for name in classes:
        _same_descriptor(_tf_protos.message(name).DESCRIPTOR, classes[name].DESCRIPTOR, name)
    from tensorflow.core.framework import types_pb2

    ours = {v.name: v.number for v in
            _tf_protos.message("BundleEntryProto").DESCRIPTOR.fields_by_name["dtype"]
            .enum_type.values}
    assert ours == dict(types_pb2.DataType.items())


def _same_descriptor(ours, theirs, where: str, seen: set | None = None) -> None:
    seen = set() if seen is None else seen
    if ours.full_name in seen:
        return
    seen.add(ours.full_name)
    for field in ours.fields:
        other = theirs.fields_by_name.get(field.name)
        path = f"{where}.{field.name}"
        assert other is not None, f"{path}: TensorFlow has no such field"
        assert (field.number, field.type, field.is_repeated) == (
            other.number, other.type, other.is_repeated), path
        assert (field.containing_oneof is None) == (other.containing_oneof is None), path
        if field.message_type is not None:
            _same_descriptor(field.message_type, other.message_type, path, seen)


def test_parsed_messages_match_tensorflows(written):
    """Every declared field holds what TF's own classes parse, on every file inspect reads."""
    classes = tf_classes()
    files: list[tuple[str, bytes]] = []
    for path in _all_paths(written).values():
        for name, file in (("SavedModel", "saved_model.pb"),
                           ("SavedMetadata", "keras_metadata.pb")):
            if (path / file).is_file():
                files.append((name, (path / file).read_bytes()))
    for path in [*_all_paths(written).values(), *_checkpoint_prefixes(written).values()]:
        for meta in [Path(f"{path}.meta"), *path.parent.glob(f"{path.name}*.meta")]:
            if meta.is_file():
                files.append(("MetaGraphDef", meta.read_bytes()))
    for prefix in _checkpoint_prefixes(written).values():
        graph = tf_listing(prefix).object_graph
        if graph is not None:
            files.append(("TrackableObjectGraph", graph))
    kinds = {name for name, _ in files}
    assert kinds == {"SavedModel", "SavedMetadata", "MetaGraphDef", "TrackableObjectGraph"}
    for name, data in files:
        theirs = classes[name]()
        theirs.ParseFromString(data)
        _same_values(_tf_protos.parse(name, data), theirs, name)


def _same_values(ours, theirs, where: str) -> None:
    for field in ours.DESCRIPTOR.fields:
        path = f"{where}.{field.name}"
        mine, other = getattr(ours, field.name), getattr(theirs, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            assert sorted(mine) == sorted(other), path
            value_field = field.message_type.fields_by_name["value"]
            for key in mine:
                if value_field.message_type is None:
                    assert mine[key] == other[key], f"{path}[{key}]"
                else:
                    _same_values(mine[key], other[key], f"{path}[{key}]")
        elif field.is_repeated:
            assert len(mine) == len(other), path
            for i, (a, b) in enumerate(zip(mine, other, strict=True)):
                if field.message_type is None:
                    assert a == b, f"{path}[{i}]"
                else:
                    _same_values(a, b, f"{path}[{i}]")
        elif field.message_type is not None:
            assert ours.HasField(field.name) == theirs.HasField(field.name), path
            _same_values(mine, other, path)
        else:
            assert mine == other, path


def test_dtype_names_are_tensorflows():
    from tensorflow.core.framework import types_pb2

    for number in [*dict(types_pb2.DataType.items()).values(), 99, 250]:
        if number:
            assert _tf_protos.dtype_name(number) == tf_dtype_name(number), number


# --- inspect --json, with and without TensorFlow ----------------------------------------

NO_TF = """\
import contextlib, io, json, sys

attempts = []


class NoTensorFlow:  # as if TensorFlow, Keras and tf_keras were not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
            attempts.append(name)
            raise ImportError(f"No module named {name!r}")


sys.meta_path.insert(0, NoTensorFlow())
from restore_gate.cli import main

results = {}
for path in sys.argv[1:]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["inspect", "--json", path])
    results[path] = {"code": code, "out": out.getvalue(), "err": err.getvalue()}
print(json.dumps({"results": results, "attempts": attempts,
                  "loaded": sorted(m for m in sys.modules if m.split(".")[0] == "tensorflow")}))
"""


def inspect_without_tensorflow(paths: list[Path]) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", NO_TF, *map(str, paths)], capture_output=True,
                          text=True, env=env, timeout=300, check=True)
    return json.loads(done.stdout)


def test_inspect_json_is_identical_without_tensorflow(written, with_tf_readers):
    paths = list(_all_paths(written).values())
    expected = {str(p): json.loads(to_json(inspect_checkpoint(p))) for p in paths}
    found = inspect_without_tensorflow(paths)
    assert found["attempts"] == [] and found["loaded"] == []
    for path in paths:
        result = found["results"][str(path)]
        # listed either way; a SavedModel TensorFlow cannot load (e.g. an empty saved_model.pb)
        # is exit 2, with or without TensorFlow
        assert result["code"] == (2 if expected[str(path)].get("problems") else 0), result["err"]
        assert json.loads(result["out"]) == expected[str(path)], path


def test_inspect_json_is_identical_to_inspect_with_tensorflow_readers(written, monkeypatch,
                                                                       capsys):
    """In one process: the TF-free path, then TF's readers swapped in, give the same JSON
    (and TF's readers do get used: the seam is real)."""
    path = written["tf-opt"]
    assert main(["inspect", "--json", str(path)]) == 0
    ours = capsys.readouterr().out
    calls = []
    monkeypatch.setattr(tf_index, "list_checkpoint", lambda p: calls.append(p) or tf_listing(p))
    assert main(["inspect", "--json", str(path)]) == 0
    assert calls and capsys.readouterr().out == ours


# --- damaged files: a clear error (exit 2), never a crash, never a wrong listing --------


def _inspect(path: Path, capsys) -> tuple[int, str, str]:
    code = main(["inspect", "--json", str(path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _copy(prefix: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for file in [prefix, *prefix.parent.glob(f"{prefix.name}.*")]:
        if file.is_file():  # a V1 checkpoint is its prefix
            shutil.copy(file, target / file.name)
    return target / prefix.name


@pytest.mark.parametrize("case", ["tf-opt", "tf1-v2"])
def test_every_truncation_of_the_index_is_an_error_naming_it(written, tmp_path, capsys, case):
    prefix = _copy(written[case], tmp_path / "ckpt")
    index = Path(f"{prefix}.index")
    data = index.read_bytes()
    for keep in range(0, len(data), max(1, len(data) // 97)):
        index.write_bytes(data[:keep])
        code, out, err = _inspect(prefix if keep else index, capsys)
        assert code == 2 and out == "", keep
        assert "truncated" in err and ("index" in err or "not found" in err), (keep, err)


@pytest.mark.parametrize("case", ["tf-opt", "tf1-v2", "tf1-v1",
                                  "serving:saved_model_half_plus_two_cpu/00000123"])
def test_every_flipped_byte_of_the_index_is_an_error_or_changes_nothing(
        written, tmp_path, capsys, case):
    """Checksums guard every block: a flipped bit is an error naming the file, unless it hit
    bytes nobody reads (the footer's padding, a V1 file's tensor data), when the listing is
    the intact one."""
    source = _all_paths(written)[case]
    if (source / "saved_model.pb").is_file():
        target = tmp_path / "saved"
        shutil.copytree(source, target)
        prefix = target / "variables" / "variables"
    else:
        target = prefix = _copy(written[case], tmp_path / "ckpt")
    index = Path(f"{prefix}.index") if Path(f"{prefix}.index").is_file() else prefix  # V1
    data = bytearray(index.read_bytes())
    code, intact, _ = _inspect(target, capsys)
    assert code == 0
    errors = 0
    positions = [*range(0, len(data) - 48, max(1, len(data) // 300)), *range(len(data) - 48,
                                                                             len(data))]
    for position in positions:
        broken = bytearray(data)
        broken[position] ^= 0x10
        index.write_bytes(bytes(broken))
        code, out, err = _inspect(target, capsys)
        assert code in (0, 2), position
        if code == 2:
            errors += 1
            assert index.name in err or str(prefix) in err, (position, err)
        else:
            assert out == intact, position
    assert errors > (len(positions) * 0.7 if index != prefix else 0)  # V1: data unread


def test_a_corrupted_object_graph_is_an_error_naming_the_data_file(written, tmp_path, capsys):
    prefix = _copy(written["tf-opt"], tmp_path / "ckpt")
    entries, _ = tf_index.read_entries(Path(f"{prefix}.index"))
    graph = entries[tf_index.GRAPH_KEY]
    shard = tf_index.shard_path(prefix, graph.shard, 1)
    raw = bytearray(shard.read_bytes())
    raw[graph.offset + graph.size // 2] ^= 0xFF
    shard.write_bytes(bytes(raw))
    code, _, err = _inspect(prefix, capsys)
    assert code == 2 and shard.name in err and "checksum" in err


def test_a_truncated_data_shard_is_an_error_at_inspect(written, tmp_path, capsys):
    prefix = _copy(written["sharded"], tmp_path / "ckpt")
    last = sorted(prefix.parent.glob("ckpt.data-*"))[-1]
    last.write_bytes(last.read_bytes()[:-3])
    code, _, err = _inspect(prefix, capsys)
    assert code == 2 and f"{last.name} is truncated" in err


def test_a_damaged_v1_file_or_saved_model_is_an_error(written, tmp_path, capsys):
    v1 = tmp_path / "model-1"
    data = written["tf1-v1"].read_bytes()
    v1.write_bytes(data[:len(data) // 2] + bytes(8) + tf_files.TABLE_MAGIC)
    code, _, err = _inspect(v1, capsys)
    assert code == 2 and str(v1) in err
    saved = tmp_path / "saved"
    shutil.copytree(written["saved-model"], saved)
    graph = (saved / "saved_model.pb").read_bytes()
    (saved / "saved_model.pb").write_bytes(graph[: len(graph) // 3])
    code, _, err = _inspect(saved, capsys)
    assert code == 2 and "saved_model.pb" in err


def test_a_v1_file_with_tensor_data_in_its_first_block_is_left_to_tensorflow(written,
                                                                             monkeypatch):
    """The one fallback: a first block above _table.BIG_BLOCK is read by TF's reader."""
    path = written["tf1-v1"]
    monkeypatch.setattr(_table, "BIG_BLOCK", 16)
    calls = []
    real = tf_index._list_with_tensorflow
    monkeypatch.setattr(tf_index, "_list_with_tensorflow", lambda p: calls.append(p) or real(p))
    assert tf_index.list_checkpoint(path) == tf_listing(path)
    assert calls == [path]


def test_inspecting_a_tf_checkpoint_loads_no_hdf5_reader(written):
    """The HDF5 readers load only for HDF5 files: `inspect` of a TF checkpoint stays a
    metadata read (with h5py and NumPy imported for every file it took 0.27 s instead of
    0.16 s; benchmarks/inspect_speed.py)."""
    code = ("import contextlib, io, sys\nfrom restore_gate.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    code = main(['inspect', '--json', sys.argv[1]])\n"
            "print(code, 'h5py' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code, str(written["tf-opt"])],
                          capture_output=True, text=True, timeout=300, check=True)
    assert done.stdout.split() == ["0", "False"], done.stderr
