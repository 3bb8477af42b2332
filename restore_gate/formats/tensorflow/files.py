"""Where a TensorFlow checkpoint's files are: prefixes, state files, V1 files, data shards.

No TensorFlow needed. A checkpoint is named by its prefix (`ckpt/model-3`), its
`.index` file, a V1 file (one SSTable without `.index`), or a folder: the
`checkpoint` state file (CheckpointManager, `tf.compat.v1.train.Saver`) picks the
latest, else the newest prefix in the folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from restore_gate.errors import GateError

# The magic number closing every LevelDB-style table: V2 `.index` files and V1 checkpoints.
TABLE_MAGIC = bytes.fromhex("57fb808b247547db")
_STATE_LINE = re.compile(r'^model_checkpoint_path:\s*"(.*)"\s*$', re.M)
_SHARD = re.compile(r"\.data-(\d{5})-of-(\d{5})$")
_NOT_V1 = (".index", ".meta", ".h5", ".hdf5", ".keras", ".gz", ".tgz", ".json", ".pb", ".txt")


def is_table(path: Path) -> bool:
    """Whether a file ends with the table magic number (cheap: reads 8 bytes)."""
    try:
        with path.open("rb") as handle:
            handle.seek(-len(TABLE_MAGIC), 2)
            return handle.read() == TABLE_MAGIC
    except OSError:
        return False


def is_v1_file(path: Path) -> bool:
    """A V1-format checkpoint: one table file, no `.index` beside it."""
    return (
        path.is_file()
        and not path.name.endswith(_NOT_V1)
        and _SHARD.search(path.name) is None
        and not Path(f"{path}.index").exists()
        and is_table(path)
    )


def state_latest(folder: Path) -> Path | None:
    """The latest checkpoint the folder's `checkpoint` state file names, if it exists.

    A state file written elsewhere holds an absolute path that no longer exists
    (the folder was copied or downloaded): the same name inside the folder is used.
    """
    state = folder / "checkpoint"
    if not state.is_file():
        return None
    match = _STATE_LINE.search(state.read_text(encoding="utf-8", errors="replace"))
    if not match:
        return None
    named = Path(match.group(1))
    for candidate in (named if named.is_absolute() else folder / named, folder / named.name):
        if exists(candidate):
            return candidate
    raise GateError(
        "inspect",
        f"{state} names the latest checkpoint {match.group(1)!r}, but {folder} holds no "
        "checkpoint of that name",
        "copy the checkpoint files the state file names into the folder (all .index and "
        ".data-* files), or pass the prefix of a checkpoint that is there",
    )


def exists(prefix: Path) -> bool:
    return Path(f"{prefix}.index").is_file() or is_v1_file(prefix)


def find_prefix(path: Path) -> Path | None:
    """The checkpoint prefix for a prefix, an `.index` file, a V1 file or a folder."""
    if path.is_dir():
        latest = state_latest(path)
        if latest is not None:
            return latest
        indexes = sorted(path.glob("*.index"))
        if indexes:
            return indexes[-1].with_suffix("")
        v1_files = sorted(p for p in path.iterdir() if is_v1_file(p))
        return v1_files[-1] if v1_files else None
    if path.suffix == ".index" and path.is_file():
        return path.with_suffix("")
    return path if exists(path) else None


def data_files(prefix: Path) -> list[Path]:
    """Every file of the checkpoint; a missing data shard is an error naming it."""
    if is_v1_file(prefix):
        return [prefix]
    index = Path(f"{prefix}.index")
    if not index.is_file():
        raise GateError(
            "inspect", f"checkpoint index {index} not found",
            "pass the checkpoint prefix (e.g. ckpt/model-3), its folder or its .index file",
        )
    shards = sorted(prefix.parent.glob(f"{prefix.name}.data-*"))
    counts = {int(m.group(2)) for m in map(_SHARD.search, (s.name for s in shards)) if m}
    expected = max(counts, default=1)
    wanted = [prefix.parent / f"{prefix.name}.data-{i:05d}-of-{expected:05d}"
              for i in range(expected)]
    missing = [w.name for w in wanted if not w.is_file()]
    if missing:
        raise GateError(
            "inspect",
            f"checkpoint {prefix} is missing {len(missing)} of {expected} data shards: "
            + ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else ""),
            "upload or copy every .data-NNNNN-of-NNNNN file next to the .index file",
        )
    return [index, *wanted]
