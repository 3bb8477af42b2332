"""A TensorFlow checkpoint's variable list without TensorFlow: the `.index` table, read directly.

A V2 checkpoint (`tf.train.Checkpoint`, `Saver` V2, a SavedModel's `variables/`) keeps its
metadata in `PREFIX.index`: a LevelDB-style table (tensorflow/core/lib/io/table) whose ""
key holds a `BundleHeaderProto` and every other key a tensor's `BundleEntryProto` (dtype,
shape, shard, offset, size, crc32c). A V1 checkpoint is one table whose "" key holds a
`SavedTensorSlices` with every tensor's name, shape and dtype. The table format itself
(blocks, snappy, checksums) is read by formats/tensorflow/_table.py.

`list_checkpoint` returns what TensorFlow's `load_checkpoint` lists (shapes, dtypes) plus
the bytes of the TF2 object graph, read from its data shard (checksum verified).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from restore_gate.errors import GateError
from restore_gate.formats.tensorflow import _protos as _tf_protos
from restore_gate.formats.tensorflow import files as tf_files
from restore_gate.formats.tensorflow._table import (
    LargeBlock,
    TableError,
    TableLimit,
    crc32c,
    first_entry,
    mask,
    read_table,
    varint,
)
from restore_gate.limits import MAX_INDEX_BYTES
from restore_gate.runtime import import_tensorflow

GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_MAX_GRAPH = 256 << 20  # nor an object graph above 256 MiB
HINT = ("the file is truncated, corrupted or not a TensorFlow checkpoint: re-download or "
         "re-create the release asset")
LIMIT_HINT = ("TensorFlow writes no table this large (limits in restore_gate/limits.py): the file "
              "is not a checkpoint TensorFlow wrote; re-create the release asset with "
              "tf.train.Checkpoint")


@dataclass(frozen=True)
class Listing:
    """What TensorFlow's checkpoint reader lists, and the TF2 object graph's serialized bytes."""

    shapes: dict[str, list[int]]
    dtypes: dict[str, str]
    object_graph: bytes | None = None


@dataclass(frozen=True)
class Entry:
    """One tensor of a V2 checkpoint: where its bytes are and what they hold."""

    key: str
    dtype: int
    shape: list[int]
    shard: int
    offset: int
    size: int
    crc32c: int


def list_checkpoint(prefix: Path) -> Listing:
    """Shapes, dtypes (and the object graph) of a V2 or V1 checkpoint; GateError if unreadable."""
    if tf_files.is_v1_file(prefix):
        return _list_v1(prefix)
    index = Path(f"{prefix}.index")
    try:
        entries, num_shards = read_entries(index)
    except (TableError, OSError) as exc:
        raise unreadable(prefix, index, exc) from exc
    _check_shard_sizes(prefix, entries, num_shards)
    graph = entries.get(GRAPH_KEY)
    return Listing(
        shapes={key: list(e.shape) for key, e in entries.items()},
        dtypes={key: _tf_protos.dtype_name(e.dtype) for key, e in entries.items()},
        object_graph=read_string(prefix, graph, num_shards) if graph is not None else None,
    )


def unreadable(prefix: Path, file: Path, exc: Exception) -> GateError:
    reason = str(exc) if isinstance(exc, TableError) else f"{type(exc).__name__}: {exc}"
    return GateError("inspect", f"cannot read checkpoint {prefix}: {file.name}: {reason}",
                     LIMIT_HINT if isinstance(exc, TableLimit) else HINT)


def read_entries(index: Path) -> tuple[dict[str, Entry], int]:
    """Every tensor the `.index` lists, as TF's reader does (slice entries left out)."""
    with index.open("rb") as handle:
        rows = read_table(handle, index.stat().st_size, limit=MAX_INDEX_BYTES)
    if not rows or rows[0][0] != b"":
        raise TableError("no bundle header (the \"\" key): not a TensorFlow V2 checkpoint index")
    header = _parse("BundleHeaderProto", rows[0][1], "the bundle header")
    if header.endianness != 0:
        raise TableError("written on a big-endian machine: only little-endian checkpoints "
                         "are read")
    if header.num_shards < 1:
        raise TableError(f"the header records {header.num_shards} data shards")
    entries: dict[str, Entry] = {}
    sliced: set[str] = set()
    for key, value in rows[1:]:
        name = key.decode("utf-8", "surrogateescape")
        proto = _parse("BundleEntryProto", value, f"the entry of {name!r}")
        if proto.slices:
            sliced.add(name)
        entries[name] = Entry(name, proto.dtype, [int(d.size) for d in proto.shape.dim],
                              proto.shard_id, proto.offset, proto.size, proto.crc32c)
    # a partitioned variable's slices sit under keys "\0" + its OrderedCode-encoded name
    for name in [n for n in entries if n.startswith("\0")]:
        if _slice_owner(name) in sliced:
            del entries[name]
    return entries, header.num_shards


def read_string(prefix: Path, entry: Entry, num_shards: int) -> bytes:
    """The bytes of a scalar string tensor (the object graph) from its data shard.

    Layout (tensor_bundle.cc, WriteStringTensor): varint64 length, the masked crc32c of the
    length (as uint32 when it fits, else uint64), the bytes; `entry.crc32c` covers the
    length (as checksummed), its checksum and the bytes.
    """
    shard = shard_path(prefix, entry.shard, num_shards)
    if entry.dtype != _tf_protos.DT_STRING or entry.shape:
        raise unreadable(prefix, Path(f"{prefix}.index"), TableError(
            f"{entry.key} is a {_tf_protos.dtype_name(entry.dtype)}{entry.shape}, not a string"))
    try:
        if entry.size > _MAX_GRAPH:
            raise TableError(f"{entry.key} claims {entry.size} bytes: too large")
        with shard.open("rb") as handle:
            handle.seek(entry.offset)
            raw = handle.read(entry.size)
        if len(raw) != entry.size:
            raise TableError(f"{entry.key} needs bytes {entry.offset}-"
                             f"{entry.offset + entry.size}, the file ends before")
        length, start = varint(raw, 0)
        if start + 4 + length != len(raw):
            raise TableError(f"{entry.key}: its length does not match its entry's size")
        (length_crc,) = struct.unpack_from("<I", raw, start)
        crc = crc32c(struct.pack("<I" if length <= 0xFFFFFFFF else "<Q", length))
        if mask(crc) != length_crc:
            raise TableError(f"{entry.key}: checksum mismatch on its length")
        crc = crc32c(raw[start + 4:], crc32c(raw[start:start + 4], crc))
        if mask(crc) != entry.crc32c:
            raise TableError(f"{entry.key}: checksum mismatch (the bytes are corrupted)")
    except (TableError, OSError) as exc:
        raise unreadable(prefix, shard, exc) from exc
    return raw[start + 4:]


def shard_path(prefix: Path, shard: int, num_shards: int) -> Path:
    return prefix.parent / f"{prefix.name}.data-{shard:05d}-of-{num_shards:05d}"


def _check_shard_sizes(prefix: Path, entries: dict[str, Entry], num_shards: int) -> None:
    """A data shard shorter than its entries need is truncated: say so now, naming it."""
    needed: dict[int, int] = {}
    for entry in entries.values():
        if not 0 <= entry.shard < num_shards:
            raise unreadable(prefix, Path(f"{prefix}.index"), TableError(
                f"{entry.key} names data shard {entry.shard} of {num_shards}"))
        needed[entry.shard] = max(needed.get(entry.shard, 0), entry.offset + entry.size)
    for shard, size in sorted(needed.items()):
        path = shard_path(prefix, shard, num_shards)
        if not path.is_file():
            raise GateError("inspect", f"checkpoint {prefix} is missing its data shard "
                            f"{path.name}", "upload or copy every .data-NNNNN-of-NNNNN file "
                            "next to the .index file")
        if path.stat().st_size < size:
            raise GateError(
                "inspect", f"cannot read checkpoint {prefix}: {path.name} is truncated: "
                f"{path.stat().st_size} bytes, the index needs {size}", HINT)


def _list_v1(path: Path) -> Listing:
    """A V1 file: its "" entry (the first) lists every tensor's name, shape and dtype."""
    try:
        with path.open("rb") as handle:
            key, value = first_entry(handle, path.stat().st_size)
        if key != b"":
            raise TableError("no \"\" entry: not a TensorFlow V1 checkpoint")
        meta = _parse("SavedTensorSlices", value, "the V1 metadata").meta
    except LargeBlock:
        return _list_with_tensorflow(path)
    except (TableError, OSError) as exc:
        raise unreadable(path, path, exc) from exc
    tensors = sorted(meta.tensor, key=lambda t: t.name)
    return Listing(
        shapes={t.name: [int(d.size) for d in t.shape.dim] for t in tensors},
        dtypes={t.name: _tf_protos.dtype_name(t.type) for t in tensors},
    )


def _list_with_tensorflow(path: Path) -> Listing:
    """The one case left to TensorFlow's reader: a V1 file whose first block is larger than
    `_table.BIG_BLOCK` (tensor data beside the metadata, which TF's reader streams)."""

    tf = import_tensorflow("inspect")
    try:
        reader = tf.train.load_checkpoint(str(path))
        shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    except Exception as exc:  # DataLossError, ...
        raise unreadable(path, path, TableError(f"{type(exc).__name__}: {exc}")) from exc
    return Listing({k: list(v) for k, v in sorted(shapes.items())},
                   {k: v.name for k, v in sorted(dtypes.items())})


def _slice_owner(key: str) -> str | None:
    """The tensor name in a slice key: "\\0", then the name (\\0 -> \\0\\xff, \\xff -> \\xff\\0)
    ended by \\0\\1 (tensorflow/core/lib/strings/ordered_code.cc, WriteString)."""
    raw = key.encode("utf-8", "surrogateescape")[1:]
    name, pos = bytearray(), 0
    while pos + 1 < len(raw):
        pair = raw[pos:pos + 2]
        if pair == b"\x00\x01":
            return name.decode("utf-8", "surrogateescape")
        if pair in (b"\x00\xff", b"\xff\x00"):
            name.append(pair[0])
            pos += 2
        else:
            name.append(raw[pos])
            pos += 1
    return None


def _parse(name: str, data: bytes, what: str):
    from google.protobuf.message import DecodeError

    try:
        return _tf_protos.parse(name, data)
    except DecodeError as exc:
        raise TableError(f"{what} is not a valid {name} ({exc})") from exc
