"""LevelDB-style tables as TensorFlow writes them (tensorflow/core/lib/io/table*).

A table ends with a 48-byte footer: the metaindex and index block handles (varint offset,
varint size), padding, and the magic number. The index block maps each data block's last key
to its handle; every block holds entries (shared key length, unshared length, value length as
varints, the key suffix, the value), then the restart offsets and their count, then a 5-byte
trailer: the compression type (0: none; 1: snappy, which some TF 1.x builds wrote) and the
masked crc32c of block + type. Checksums are verified, as TensorFlow does.
"""

from __future__ import annotations

import struct
from functools import cache
from typing import BinaryIO

from restore_gate.formats.tensorflow.files import TABLE_MAGIC

FOOTER = 48
TRAILER = 5
MAX_BLOCK = 1 << 30
BIG_BLOCK = 8 << 20  # a V1 file's first block, read whole (and checksummed) in Python


class TableError(ValueError):
    """A table that cannot be read: what is wrong, and where."""


class LargeBlock(TableError):
    """A V1 file whose first block also holds tensor data: too large to read in Python."""


def read_table(handle: BinaryIO, size: int, limit: int) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of a table file, in key order."""
    if size > limit:
        raise TableError(f"{size} bytes: too large for a checkpoint index")
    rows: list[tuple[bytes, bytes]] = []
    for offset, length in block_handles(handle, size):
        for key, value in _block_entries(_read_block(handle, size, offset, length)):
            if rows and key <= rows[-1][0]:
                raise TableError("keys out of order (a corrupted block)")
            rows.append((key, value))
    return rows


def first_entry(handle: BinaryIO, size: int) -> tuple[bytes, bytes]:
    """The first (key, value) of a table, reading only its index and first data block.

    TensorFlow's V1 writer gives the "" entry a block of its own (tensor data starts a new
    block); a first block above `BIG_BLOCK` (tensor data in it) raises `LargeBlock`."""
    for offset, length in block_handles(handle, size):
        if length > BIG_BLOCK:
            raise LargeBlock(f"the first block holds {length} bytes")
        for row in _block_entries(_read_block(handle, size, offset, length)):
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


def _read_block(handle: BinaryIO, size: int, offset: int, length: int) -> bytes:
    if offset + length + TRAILER > size - FOOTER:
        raise TableError(f"a block at {offset} (+{length} bytes) runs past the end (truncated)")
    handle.seek(offset)
    raw = handle.read(length + TRAILER)
    block, kind = raw[:length], raw[length]
    (stored,) = struct.unpack_from("<I", raw, length + 1)
    if mask(crc32c(raw[:length + 1])) != stored:
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
    expected, pos = varint(data, 0)
    if expected > min(MAX_BLOCK, 22 * len(data)):  # a 3-byte copy makes at most 64 bytes
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
            if distance >= length:
                out += out[start:start + length]
            else:  # the copy overlaps what it writes: a repeated pattern
                for i in range(length):
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
        shared, pos = varint(block, pos)
        unshared, pos = varint(block, pos)
        length, pos = varint(block, pos)
        if shared > len(key) or pos + unshared + length > end:
            raise TableError("a block entry runs past its block (corrupted)")
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


def mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
