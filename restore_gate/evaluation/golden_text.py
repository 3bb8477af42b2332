"""String golden inputs in golden.npz without pickle: length-prefixed UTF-8 bytes.

A string array `A` of shape S is stored as two plain arrays: `bytes:<key>` (uint8, every
value's bytes one after another) and `lengths:<key>` (int64, shape S, each value's length).
Both load with `allow_pickle=False` and under the npz header size caps; unlike NumPy's
fixed-width `|S`, trailing NUL bytes survive the round trip.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from restore_gate.errors import GateError

BYTES, LENGTHS = "bytes:", "lengths:"


def encode(key: str, array: np.ndarray) -> dict[str, np.ndarray]:
    """{bytes:key, lengths:key} for a string array (object of bytes/str, `|S`, `<U`)."""
    values = [v.encode() if isinstance(v, str) else bytes(v) for v in array.reshape(-1)]
    lengths = np.asarray([len(v) for v in values], dtype=np.int64).reshape(array.shape)
    data = np.frombuffer(b"".join(values), dtype=np.uint8)
    return {BYTES + key: data, LENGTHS + key: lengths}


def decode(arrays: dict[str, np.ndarray], path: Any) -> dict[str, np.ndarray]:
    """The arrays with each encoded pair replaced by an object array of bytes under its key."""
    out = {k: v for k, v in arrays.items() if not k.startswith((BYTES, LENGTHS))}
    for name in [k for k in arrays if k.startswith(LENGTHS)]:
        key = name[len(LENGTHS):]
        lengths, data = arrays[name], arrays.get(BYTES + key)
        if data is None or data.dtype != np.uint8 or data.ndim != 1 or \
                lengths.dtype.kind not in "iu" or (lengths < 0).any() or \
                int(lengths.sum()) != data.size:
            raise GateError("fetch", f"golden file {path}: the string input {key!r} is not "
                            "a valid bytes/lengths pair", "re-create the bundle with "
                            "`restore-gate snapshot`")
        ends = np.cumsum(lengths.reshape(-1))
        raw = data.tobytes()
        values = [raw[e - n:e] for e, n in zip(ends.tolist(), lengths.reshape(-1).tolist(),
                                                 strict=True)]
        strings = np.empty(len(values), dtype=object)
        strings[:] = values
        out[key] = strings.reshape(lengths.shape)
    return out
