"""Size limits for untrusted input, in one place (README: "Security model").

Every decompression the gate does is bounded before it starts, by the sizes the
archive declares and by their compression ratio: a zip member is read only when its
declared size is under the cap, and Python's `zipfile` never yields more than the
declared size (it stops there and checks the CRC). Tar bundles are capped in
`bundle.py` by the bytes actually written. Time limits per stage: `deadline.py`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from restore_gate.errors import GateError

MiB = 1024**2
GiB = 1024**3

# YAML: `.restore-gate.yml` and the threshold file (anchors and aliases are refused too).
MAX_CONFIG_BYTES = 1 * MiB
# The golden inputs and outputs of a bundle (golden.npz, a zip of .npy arrays).
MAX_GOLDEN_BYTES = 512 * MiB
# JSON members of a `.keras` zip (config.json, metadata.json).
MAX_KERAS_JSON_BYTES = 64 * MiB
# The weights member of a `.keras` zip (model.weights.h5).
MAX_KERAS_WEIGHTS_BYTES = 16 * GiB
# Above this size a zip member may not inflate more than MAX_ZIP_RATIO times: real weights
# and outputs barely compress, a bomb is thousands of times its packed size.
RATIO_FLOOR_BYTES = 16 * MiB
MAX_ZIP_RATIO = 200

# A TensorFlow table (a V2 checkpoint's `.index`, a V1 checkpoint), read without TensorFlow
# (formats/tensorflow/_table.py). TensorFlow writes blocks of about 256 KiB (table_options.h,
# `block_size = 262144`; a block closes once it reaches that size, so it holds at most
# about three times that) whose keys are tensor names of tens to hundreds of bytes, one entry
# per tensor; each limit is far above what a real checkpoint needs.
MAX_INDEX_BYTES = 256 * MiB  # the `.index` file itself
MAX_TABLE_BLOCK_BYTES = 16 * MiB  # one block, stored or once decompressed (64x TF's size)
MAX_TABLE_BYTES = 256 * MiB  # all blocks together, decompressed
MAX_TABLE_KEY_BYTES = 64 * 1024  # one key: a tensor name (TF's are under ~1 KiB)
MAX_TABLE_KEYS_BYTES = 64 * MiB  # all keys together
# Entries (tensors and partitioned variables' slices), and data blocks: each entry costs
# inspect ~30 us and ~1.7 KB (--json) on 2 cores; large real models hold thousands.
MAX_TABLE_ENTRIES = 200_000


def check_zip_member(info: zipfile.ZipInfo, cap: int, label: str, stage: str,
                     hint: str) -> None:
    """Refuse a member whose declared size is over `cap` or that inflates too much."""
    size, packed = info.file_size, max(info.compress_size, 1)
    if size > cap:
        raise GateError(stage, f"{label}: {info.filename!r} declares {size} bytes unpacked, "
                        f"over the limit of {cap} bytes", hint, code="zip-member-too-large")
    if size > RATIO_FLOOR_BYTES and size / packed > MAX_ZIP_RATIO:
        raise GateError(stage, f"{label}: {info.filename!r} inflates {size / packed:.0f} times "
                        f"({packed} -> {size} bytes), over the limit of {MAX_ZIP_RATIO}x: a "
                        "decompression bomb", hint, code="zip-bomb")


def check_zip(path: Path, caps: dict[str, int], default_cap: int, stage: str, hint: str,
              total_cap: int | None = None) -> None:
    """Check every member of the zip at `path` (by name, else `default_cap`) and their total."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise GateError(stage, f"cannot read {path}: {type(exc).__name__}: {exc}", hint,
                        code="archive-unreadable") from exc
    total = 0
    for info in infos:
        check_zip_member(info, caps.get(info.filename, default_cap), str(path), stage, hint)
        total += info.file_size
    if total_cap is not None and total > total_cap:
        raise GateError(stage, f"{path}: its members declare {total} bytes unpacked, over the "
                        f"limit of {total_cap} bytes", hint, code="zip-too-large")


def check_npz_headers(path: Path, stage: str, hint: str) -> None:
    """Each `.npy` header in an `.npz` may not declare more data than its member holds
    (NumPy allocates the declared shape before it reads)."""
    import numpy as np
    from numpy.lib import format as npy

    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with archive.open(info) as member:
                try:
                    version = npy.read_magic(member)
                    read_header = (npy.read_array_header_1_0 if version == (1, 0)
                                   else npy.read_array_header_2_0)
                    shape, _, dtype = read_header(member)
                except ValueError:  # its message quotes the file's bytes: not shown
                    raise GateError(stage, f"{path}: {info.filename!r} is not a NumPy array "
                                    "file (no valid .npy header)", hint,
                                    code="golden-not-npy") from None
                declared = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
                if declared > info.file_size:
                    raise GateError(stage, f"{path}: {info.filename!r} declares {declared} "
                                    f"bytes of data in a {info.file_size}-byte member", hint,
                                    code="golden-size-mismatch")
