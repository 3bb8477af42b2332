"""GitHub Actions workflow commands and files: annotations, step outputs, the job summary.

Report text is untrusted: workflow-command data and properties are percent-encoded
so a name cannot start a command of its own, and multi-line outputs use a random
delimiter that the value cannot contain.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

MAX_OUTPUT_BYTES = 64 * 1024  # per step output; GitHub allows 1 MB for all of a job's outputs
MAX_OUTPUT_LINES = 1000


def escape_data(text: str) -> str:
    return str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, message: str, **props: str | int) -> str:
    """`::error file=..,line=..,title=..::message` with everything encoded."""
    fields = ",".join(f"{k}={escape_property(str(v))}" for k, v in props.items() if v != "")
    return f"::{kind}{' ' + fields if fields else ''}::{escape_data(message)}"


def warn(message: str, in_actions: bool) -> None:
    """A publishing problem: a warning, never a change of verdict."""
    print(f"restore-gate: warning: {message}", file=sys.stderr, flush=True)
    if in_actions:
        print(command("warning", message, title="restore-gate"), flush=True)








def bounded_lines(lines: list[str], limit: int = MAX_OUTPUT_BYTES,
                  most: int = MAX_OUTPUT_LINES) -> str:
    """The first lines that fit in `limit` UTF-8 bytes (and `most` lines), then a last line
    "… and K more" when some were left out."""
    kept: list[str] = []
    size = 0
    reserve = len(f"… and {len(lines)} more".encode()) + 1
    for index, line in enumerate(lines):
        cost = len(line.encode("utf-8")) + 1
        rest_fits = size + cost + (reserve if index + 1 < len(lines) else 0) <= limit
        if len(kept) >= most or not rest_fits:
            kept.append(f"… and {len(lines) - index} more")
            break
        kept.append(line)
        size += cost
    return "\n".join(kept)












def write_outputs(path: Path, values: dict[str, str]) -> None:
    """Append `name<<DELIMITER ... DELIMITER` blocks to GITHUB_OUTPUT."""
    blocks = []
    for name, value in values.items():
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        while delimiter in value:
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        blocks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(blocks))


def write_summary(path: Path, markdown: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(markdown if markdown.endswith("\n") else markdown + "\n")
