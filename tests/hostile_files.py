"""Hostile release files for issue 15, items 5-7, written by code (small on disk).

Used by tests/test_hostile_limits.py (exit 2 and the named error) and by
benchmarks/hostile_files.py (time and peak memory of `restore-gate inspect` on each).
No TensorFlow or Keras here: the files are written byte by byte (tables) or with h5py.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import google_crc32c

TABLE_MAGIC = struct.pack("<Q", 0xDB4775248B80FB57)
HEADER = b"\x08\x01"  # BundleHeaderProto {num_shards: 1}


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def block(entries: list[tuple[int, bytes, bytes]]) -> bytes:
    """A table block of (shared, key suffix, value) entries, one restart point."""
    out = bytearray()
    for shared, suffix, value in entries:
        out += varint(shared) + varint(len(suffix)) + varint(len(value)) + suffix + value
    return bytes(out) + struct.pack("<II", 0, 1)


def table(blocks: list[tuple[bytes, int, bytes]]) -> bytes:
    """A LevelDB-style table: (stored bytes, compression type, last key) per data block."""
    out, handles = bytearray(), []
    for stored, kind, last_key in blocks:
        handles.append((last_key, varint(len(out)) + varint(len(stored))))
        out += _raw_block(stored, kind)
    meta = varint(len(out)) + varint(len(block([])))
    out += _raw_block(block([]), 0)
    index_handle = varint(len(out))
    index = block([(0, key, handle) for key, handle in handles])
    out += _raw_block(index, 0)
    footer = meta + index_handle + varint(len(index))
    return bytes(out) + footer.ljust(40, b"\0") + TABLE_MAGIC


def _raw_block(stored: bytes, kind: int) -> bytes:
    crc = google_crc32c.extend(google_crc32c.value(stored), bytes([kind]))
    return stored + bytes([kind]) + struct.pack("<I", _mask(crc))


def write_checkpoint(folder: Path, index: bytes) -> Path:
    """A V2 checkpoint prefix: the given `.index` and an empty data shard."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ckpt.index").write_bytes(index)
    (folder / "ckpt.data-00000-of-00001").write_bytes(b"")
    return folder / "ckpt"


def growing_keys_index(count: int = 1000, first: int = 1 << 20) -> bytes:
    """Item 5: after the header, a `first`-byte key, then `count` keys that each share the
    whole previous key and add one byte (~1 MB on disk, count * first bytes of keys)."""
    entries = [(0, b"", HEADER), (0, b"a" * first, b"")]
    entries += [(first + i, b"b", b"") for i in range(count - 1)]
    return table([(block(entries), 0, b"\xff")])


def snappy_copies_block(output: int) -> bytes:
    """Item 6: a raw snappy block of one literal then overlapping copies (distance 1, 64 bytes
    each: 3 bytes in, 64 out, inside the 22x bound) that inflates to `output` bytes."""
    copies, rest = divmod(output - 1, 64)
    body = b"\x00a" + b"\xfe\x01\x00" * copies  # literal "a"; copy-2 of 64 at distance 1
    if rest:
        body += bytes([((rest - 1) << 2) | 2]) + b"\x01\x00"
    return varint(output) + body


def snappy_index(output: int = 210 << 20) -> bytes:
    """Item 6: an `.index` whose one data block is snappy, ~output/21 bytes on disk."""
    return table([(snappy_copies_block(output), 1, b"\xff")])


def backwards_weights_h5(path: Path, layers: int = 400, filler: int = 2048) -> Path:
    """Item 7: a Keras-3-style weights file whose groups are written in reverse name order
    (h5py visits them forwards: each step seeks backwards in the file), with incompressible
    filler between them so that re-inflating from the start costs."""
    import h5py
    import numpy as np

    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as handle:
        handle.attrs["keras_version"] = "3.0.0"
        for index in reversed(range(layers)):
            group = handle.create_group(f"layers/dense_{index:04d}/vars")
            group.create_dataset("0", data=rng.integers(0, 255, filler, dtype=np.uint8))
    return path


def deflated_keras(path: Path, weights: Path) -> Path:
    """Item 7: a `.keras` zip whose model.weights.h5 is deflated (Keras stores it)."""
    meta = json.dumps({"keras_version": "3.0.0", "date_saved": "2024-01-01"}).encode()
    config = json.dumps({"class_name": "Sequential", "config": {"layers": []}}).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", meta)
        archive.writestr("config.json", config)
        archive.write(weights, "model.weights.h5")
    return path


def stored_keras(path: Path, weights: Path) -> Path:
    """The same member stored, as Keras writes it (the control)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
        archive.writestr("config.json", "{}")
        archive.write(weights, "model.weights.h5")
    path.write_bytes(buffer.getvalue())
    return path
