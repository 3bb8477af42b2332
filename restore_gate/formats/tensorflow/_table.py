"""LevelDB-style tables as TensorFlow writes them (tensorflow/core/lib/io/table*).

A table ends with a 48-byte footer: the metaindex and index block handles (varint offset,
varint size), padding, and the magic number. The index block maps each data block's last key
to its handle; every block holds entries (shared key length, unshared length, value length as
varints, the key suffix, the value), then the restart offsets and their count, then a 5-byte
trailer: the compression type (0: none; 1: snappy, which some TF 1.x builds wrote) and the
masked crc32c of block + type. Checksums are verified, as TensorFlow does (crc32c by
google-crc32c, snappy by cramjam: C and Rust, never a byte at a time in Python).

The file is untrusted: every block, key and total is bounded (limits.py, "TensorFlow
table") before it is decompressed or built, and going over a bound is a `TableLimit`.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

import cramjam
import google_crc32c

from restore_gate import limits
from restore_gate.formats.tensorflow.files import TABLE_MAGIC

FOOTER = 48
TRAILER = 5
BIG_BLOCK = 8 << 20  # a V1 file's first block above this holds tensor data: TF reads it


class TableError(ValueError):
    """A table that cannot be read: what is wrong, and where."""


class TableLimit(TableError):
    """A table over one of the bounds in limits.py: not a checkpoint TensorFlow wrote."""


class LargeBlock(TableError):
    """A V1 file whose first block also holds tensor data: too large to read in Python."""


def read_table(handle: BinaryIO, size: int, limit: int) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of a table file, in key order, within the bounds of limits.py."""
    if size > limit:
        raise TableLimit(f"{size} bytes: over the limit of {limit} bytes for a checkpoint "
                         "index")
    handles = block_handles(handle, size)
    _bound(len(handles), limits.MAX_TABLE_ENTRIES, "data blocks")
    rows: list[tuple[bytes, bytes]] = []
    inflated = keys = 0
    for offset, length in handles:
        data = _read_block(handle, size, offset, length)
        inflated += len(data)
        _bound(inflated, limits.MAX_TABLE_BYTES, "bytes in its blocks together, decompressed")
        for key, value in _block_entries(data):
            if rows and key <= rows[-1][0]:
                raise TableError("keys out of order (a corrupted block)")
            keys += len(key)
            _bound(keys, limits.MAX_TABLE_KEYS_BYTES, "bytes of keys together")
            rows.append((key, value))
            _bound(len(rows), limits.MAX_TABLE_ENTRIES, "entries")
    return rows


def _bound(value: int, cap: int, what: str) -> None:
    if value > cap:
        raise TableLimit(f"more than {cap} {what}, over the limit for a checkpoint table")


def first_entry(handle: BinaryIO, size: int) -> tuple[bytes, bytes]:
    """The first (key, value) of a table, reading only its index and first data block.

    TensorFlow's V1 writer gives the "" entry a block of its own (tensor data starts a new
    block); a first block above `BIG_BLOCK` (tensor data in it) raises `LargeBlock`."""
    for offset, length in block_handles(handle, size):
        try:
            block = _read_block(handle, size, offset, length, cap=BIG_BLOCK)
        except TableLimit as exc:
            raise LargeBlock(f"the first block is large ({exc})") from None
        for row in _block_entries(block):
            return row
        break
    raise TableError("the table holds no entries")


def block_handles(handle: BinaryIO, size: int) -> list[tuple[int, int]]:
    """(offset, length) of every data block, from the footer and the index block."""
    if size < FOOTER:
        raise TableError(f"{size} bytes: shorter than a table footer (truncated)")
    handle.seek(size - FOOTER)
    footer = handle.read(FOOTER)
    if footer[-8:] != TABLE_MAGIC:
        raise TableError("no table magic number at the end (truncated or not a checkpoint)")
    _, pos = block_handle(footer, 0)  # the metaindex block: unused
    index_handle, _ = block_handle(footer, pos)
    index = _read_block(handle, size, *index_handle)
    return [block_handle(value, 0)[0] for _, value in _block_entries(index)]


def block_handle(data: bytes, pos: int) -> tuple[tuple[int, int], int]:
    offset, pos = varint(data, pos)
    length, pos = varint(data, pos)
    return (offset, length), pos


def _read_block(handle: BinaryIO, size: int, offset: int, length: int,
                cap: int | None = None) -> bytes:
    """A block's bytes, checksummed and decompressed; `TableLimit` above `cap` bytes
    (default: limits.MAX_TABLE_BLOCK_BYTES)."""
    cap = limits.MAX_TABLE_BLOCK_BYTES if cap is None else cap
    if offset + length + TRAILER > size - FOOTER:
        raise TableError(f"a block at {offset} (+{length} bytes) runs past the end (truncated)")
    _block_limit(offset, length, cap)
    handle.seek(offset)
    raw = handle.read(length + TRAILER)
    block, kind = raw[:length], raw[length]
    (stored,) = struct.unpack_from("<I", raw, length + 1)
    if mask(crc32c(raw[:length + 1])) != stored:
        raise TableError(f"checksum mismatch in the block at byte {offset} (corrupted)")
    if kind == 1:  # snappy: TensorFlow's table builder default (written by some TF 1.x)
        return _unsnappy(block, offset, cap)
    if kind != 0:
        raise TableError(f"the block at byte {offset} has an unknown compression type {kind}: "
                         "only uncompressed and snappy blocks exist in TensorFlow tables")
    return block


def _block_limit(offset: int, size: int, cap: int) -> None:
    if size > cap:
        raise TableLimit(f"the block at byte {offset} holds {size} bytes, over the limit of "
                         f"{cap} (TensorFlow writes blocks of about 256 KiB)")


def _unsnappy(data: bytes, offset: int, cap: int) -> bytes:
    """Decompress a raw snappy block (github.com/google/snappy, format_description.txt),
    its declared size bounded first; cramjam checks the output matches it."""
    expected, _ = varint(data, 0)
    _block_limit(offset, expected, cap)
    try:
        return bytes(cramjam.snappy.decompress_raw(data))
    except cramjam.DecompressionError as exc:
        raise TableError(f"a corrupted snappy block at byte {offset} ({exc})") from None


def _block_entries(block: bytes):
    if len(block) < 4:
        raise TableError("a block too short to hold its restart count")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 * (restarts + 1)
    if restarts < 1 or end < 0:
        raise TableError("a block with a bad restart count (corrupted)")
    pos, key = 0, b""
    while pos < end:
        shared, pos = varint(block, pos)
        unshared, pos = varint(block, pos)
        length, pos = varint(block, pos)
        if shared > len(key) or pos + unshared + length > end:
            raise TableError("a block entry runs past its block (corrupted)")
        if shared + unshared > limits.MAX_TABLE_KEY_BYTES:
            raise TableLimit(f"a key of {shared + unshared} bytes, over the limit of "
                             f"{limits.MAX_TABLE_KEY_BYTES} for a tensor name")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + length]
        pos += length


def varint(data: bytes, pos: int) -> tuple[int, int]:
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


# --- crc32c (Castagnoli), masked as LevelDB stores it ------------------------------------


def crc32c(data: bytes, crc: int = 0) -> int:
    """crc32c of `data`, extending `crc` (crc32c::Extend), in C (google-crc32c)."""
    return google_crc32c.extend(crc, data)


def mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
