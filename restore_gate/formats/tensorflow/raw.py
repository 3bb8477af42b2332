"""A V2 checkpoint's numeric tensors read a slice at a time, for verification.

TensorFlow's `CheckpointReader.get_tensor` reads a whole tensor (and converts it to numpy)
so comparing a restored 1 GiB model against it would hold a second copy of its largest
tensors. A numeric tensor sits in its data shard as raw little-endian C-order bytes
(tensor_bundle.cc; `tf_index.read_entries` checks the endianness) at the offset the
`.index` records, so rows of it are read straight from the file. Whole values (for
assignment) and everything else (strings, bfloat16, partitioned variables) still come from
TensorFlow's reader, which also verifies their checksums.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from pathlib import Path
from typing import Any

from restore_gate.formats.tensorflow import _protos as _tf_protos
from restore_gate.formats.tensorflow import index as tf_index
from restore_gate.formats.values import LazyValue

_RAW_DTYPES = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
               "uint16", "uint32", "uint64", "bool", "complex64", "complex128"}


def lazy_reader(prefix: Path, get_tensor: Callable[[str], Any]) -> Callable[[str], Any]:
    """`key -> value` for `restore_values`: LazyValues where the bytes are raw, else TF's."""
    import numpy as np

    try:
        entries, num_shards = tf_index.read_entries(Path(f"{prefix}.index"))
    except Exception:  # unreadable here: TensorFlow's reader says why when it is asked
        return get_tensor

    def read(key: str) -> Any:
        entry = entries.get(key)
        name = _tf_protos.dtype_name(entry.dtype) if entry is not None else ""
        if entry is None or name not in _RAW_DTYPES or not entry.shape:
            return get_tensor(key)
        dtype = np.dtype(name).newbyteorder("<")
        if entry.size != dtype.itemsize * prod(entry.shape):
            return get_tensor(key)
        shard = tf_index.shard_path(prefix, entry.shard, num_shards)
        row = dtype.itemsize * prod(entry.shape[1:])

        def rows(start: int, stop: int) -> Any:
            count = (stop - start) * prod(entry.shape[1:])
            data = np.fromfile(shard, dtype=dtype, count=count, offset=entry.offset + start * row)
            return data.reshape((stop - start, *entry.shape[1:]))

        return LazyValue(tuple(entry.shape), dtype.itemsize, rows, lambda: get_tensor(key))

    return read
