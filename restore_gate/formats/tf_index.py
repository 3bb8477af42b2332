"""A TensorFlow checkpoint's variable list without TensorFlow: the `.index` table, read directly.

A V2 checkpoint (`tf.train.Checkpoint`, `Saver` V2, a SavedModel's `variables/`) keeps its
metadata in `PREFIX.index`: a LevelDB-style table (tensorflow/core/lib/io/table) whose ""
key holds a `BundleHeaderProto` and every other key a tensor's `BundleEntryProto` (dtype,
shape, shard, offset, size, crc32c). A V1 checkpoint is one table whose "" key holds a
`SavedTensorSlices` with every tensor's name, shape and dtype.

Table layout: a 48-byte footer (metaindex and index block handles as varints, padding, the
magic number); the index block maps each data block's last key to its handle; a block holds
entries (shared key length, unshared length, value length as varints, the key suffix, the
value), then the restart offsets and their count, then a 5-byte trailer: the compression
type (0: none; 1: snappy, which some TF 1.x builds wrote) and the masked crc32c of block +
type. Checksums are verified, as TensorFlow does.

`list_checkpoint` returns what TensorFlow's `load_checkpoint` lists (shapes, dtypes) plus
the bytes of the TF2 object graph, read from its data shard (checksum verified).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import BinaryIO

from restore_gate.errors import GateError
from restore_gate.formats import _tf_protos, tf_files

GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_FOOTER = 48
_TRAILER = 5
_MAX_INDEX = 1 << 30  # an .index above 1 GiB is not a checkpoint index
HINT = ("the file is truncated, corrupted or not a TensorFlow checkpoint: re-download or "
         "re-create the release asset")


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


class TableError(ValueError):
    """A table that cannot be read: what is wrong, and where."""


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
    return GateError("inspect", f"cannot read checkpoint {prefix}: {file.name}: {reason}", HINT)


def read_entries(index: Path) -> tuple[dict[str, Entry], int]:
    """Every tensor the `.index` lists, as TF's reader does (slice entries left out)."""
    with index.open("rb") as handle:
        rows = read_table(handle, index.stat().st_size, limit=_MAX_INDEX)
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
        with shard.open("rb") as handle:
            handle.seek(entry.offset)
            raw = handle.read(entry.size)
        if len(raw) != entry.size:
            raise TableError(f"{entry.key} needs bytes {entry.offset}-"
                             f"{entry.offset + entry.size}, the file ends before")
        length, start = _varint(raw, 0)
        if start + 4 + length != len(raw):
            raise TableError(f"{entry.key}: its length does not match its entry's size")
        (length_crc,) = struct.unpack_from("<I", raw, start)
        crc = crc32c(struct.pack("<I" if length <= 0xFFFFFFFF else "<Q", length))
        if _mask(crc) != length_crc:
            raise TableError(f"{entry.key}: checksum mismatch on its length")
        crc = crc32c(raw[start + 4:], crc32c(raw[start:start + 4], crc))
        if _mask(crc) != entry.crc32c:
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
    except (TableError, OSError) as exc:
        raise unreadable(path, path, exc) from exc
    tensors = sorted(meta.tensor, key=lambda t: t.name)
    return Listing(
        shapes={t.name: [int(d.size) for d in t.shape.dim] for t in tensors},
        dtypes={t.name: _tf_protos.dtype_name(t.type) for t in tensors},
    )


# --- the table format -----------------------------------------------------------------


def read_table(handle: BinaryIO, size: int, limit: int) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of a table file, in key order."""
    if size > limit:
        raise TableError(f"{size} bytes: too large for a checkpoint index")
    rows: list[tuple[bytes, bytes]] = []
    for block in _data_blocks(handle, size):
        for key, value in _block_entries(block):
            if rows and key <= rows[-1][0]:
                raise TableError("keys out of order (a corrupted block)")
            rows.append((key, value))
    return rows


def first_entry(handle: BinaryIO, size: int) -> tuple[bytes, bytes]:
    """The first (key, value) of a table, reading only its index and first data block."""
    for block in _data_blocks(handle, size, first=True):
        for row in _block_entries(block):
            return row
    raise TableError("the table holds no entries")


def _data_blocks(handle: BinaryIO, size: int, first: bool = False):
    if size < _FOOTER:
        raise TableError(f"{size} bytes: shorter than a table footer (truncated)")
    handle.seek(size - _FOOTER)
    footer = handle.read(_FOOTER)
    if footer[-8:] != tf_files.TABLE_MAGIC:
        raise TableError("no table magic number at the end (truncated or not a checkpoint)")
    _, pos = _handle(footer, 0)  # the metaindex block: unused
    index_handle, _ = _handle(footer, pos)
    index = _read_block(handle, size, *index_handle)
    for _, value in _block_entries(index):
        handle_, _ = _handle(value, 0)
        yield _read_block(handle, size, *handle_)
        if first:
            return


def _handle(data: bytes, pos: int) -> tuple[tuple[int, int], int]:
    offset, pos = _varint(data, pos)
    length, pos = _varint(data, pos)
    return (offset, length), pos


def _read_block(handle: BinaryIO, size: int, offset: int, length: int) -> bytes:
    if offset + length + _TRAILER > size - _FOOTER:
        raise TableError(f"a block at {offset} (+{length} bytes) runs past the end (truncated)")
    handle.seek(offset)
    raw = handle.read(length + _TRAILER)
    block, kind = raw[:length], raw[length]
    (stored,) = struct.unpack_from("<I", raw, length + 1)
    if _mask(crc32c(raw[:length + 1])) != stored:
        raise TableError(f"checksum mismatch in the block at byte {offset} (corrupted)")
    if kind == 1:  # snappy: TensorFlow's table builder default (written by some TF 1.x)
        return _unsnappy(block, offset)
    if kind != 0:
        raise TableError(f"the block at byte {offset} has an unknown compression type {kind}: "
                         "only uncompressed and snappy blocks exist in TensorFlow tables")
    return block


def _unsnappy(data: bytes, offset: int) -> bytes:
    """Decompress a raw snappy block (github.com/google/snappy, format_description.txt):
    a varint length, then literals (tag & 3 == 0) and back-references (1, 2, 3)."""
    expected, pos = _varint(data, 0)
    if expected > _MAX_INDEX:
        raise TableError(f"the snappy block at byte {offset} claims {expected} bytes")
    out = bytearray()
    try:
        while pos < len(data):
            tag = data[pos]
            kind, pos = tag & 3, pos + 1
            if kind == 0:
                length = tag >> 2
                if length >= 60:
                    extra = length - 59
                    length = int.from_bytes(data[pos:pos + extra], "little")
                    pos += extra
                out += data[pos:pos + length + 1]
                pos += length + 1
                continue
            if kind == 1:
                length, distance = ((tag >> 2) & 7) + 4, ((tag >> 5) << 8) | data[pos]
                pos += 1
            else:
                width = 2 if kind == 2 else 4
                length = (tag >> 2) + 1
                distance = int.from_bytes(data[pos:pos + width], "little")
                pos += width
            if not 0 < distance <= len(out):
                raise IndexError(distance)
            start = len(out) - distance
            for i in range(length):  # the copy may overlap what it writes
                out.append(out[start + i])
    except IndexError:
        raise TableError(f"a corrupted snappy block at byte {offset}") from None
    if len(out) != expected:
        raise TableError(f"the snappy block at byte {offset} decompresses to {len(out)} "
                         f"bytes, not the {expected} it records (corrupted)")
    return bytes(out)


def _block_entries(block: bytes):
    if len(block) < 4:
        raise TableError("a block too short to hold its restart count")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 * (restarts + 1)
    if restarts < 1 or end < 0:
        raise TableError("a block with a bad restart count (corrupted)")
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        length, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + length > end:
            raise TableError("a block entry runs past its block (corrupted)")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + length]
        pos += length


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while shift < 64:
        if pos >= len(data):
            raise TableError("a varint runs past the end of its block (truncated)")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
    raise TableError("a varint longer than 10 bytes (corrupted)")


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


# --- crc32c (Castagnoli), masked as LevelDB stores it ------------------------------------


@cache
def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


def crc32c(data: bytes, crc: int = 0) -> int:
    """crc32c of `data`, extending `crc` (crc32c::Extend)."""
    table = _crc_table()
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
