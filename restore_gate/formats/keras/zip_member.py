"""A zip member that HDF5 can seek in at no cost (a `.keras` file's model.weights.h5).

`zipfile`'s member stream (Python 3.11) seeks backwards by starting again from the member's
first byte: inflating it all again when deflated, re-reading it when stored. h5py follows
the file's object headers wherever they lie, so a weights file laid out backwards made
each step cost the whole member (a 0.9 MB `.keras` took 47 s to list). Here a stored member
(as Keras writes it) is read through a window onto the zip's own bytes; any other is
inflated once, streaming, into a temporary file that h5py opens. The member's declared
size was checked against the caps (limits.py) before; zipfile stops at that size.
"""

from __future__ import annotations

import io
import shutil
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... file name length, extra length


@contextmanager
def seekable_member(path: Path, name: str) -> Iterator[BinaryIO | Path]:
    """The member `name` of the zip at `path`: a seekable file object, or a temporary file's
    path; KeyError if absent, ValueError / zipfile.BadZipFile if the zip is corrupted."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
        if info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 1:
            with path.open("rb") as raw:
                yield Window(raw, _data_offset(raw, info, path.stat().st_size), info.file_size)
            return
        with tempfile.TemporaryDirectory(prefix="restore-gate-") as folder:
            copy = Path(folder) / Path(name).name
            with archive.open(info) as member, copy.open("wb") as out:
                shutil.copyfileobj(member, out, 1 << 20)  # checks the CRC at the end
            yield copy


def _data_offset(raw: BinaryIO, info: zipfile.ZipInfo, size: int) -> int:
    """Where the member's bytes start: after its local header (name and extra field)."""
    raw.seek(info.header_offset)
    header = raw.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size:
        raise zipfile.BadZipFile(f"{info.filename}: its local header is truncated")
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"{info.filename}: no local header where the directory says")
    start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    if start + info.file_size > size:
        raise zipfile.BadZipFile(f"{info.filename}: {info.file_size} bytes from byte {start} "
                                 f"run past the end of the {size}-byte file (truncated)")
    return start


class Window(io.RawIOBase):
    """Bytes [start, start + size) of an open binary file, read-only, seekable anywhere."""

    def __init__(self, raw: BinaryIO, start: int, size: int) -> None:
        super().__init__()
        self._raw, self._start, self._size, self._pos = raw, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), self._size - self._pos))
        if not count:
            return 0
        self._raw.seek(self._start + self._pos)
        read = self._raw.readinto(memoryview(buffer)[:count]) or 0
        self._pos += read
        return read
