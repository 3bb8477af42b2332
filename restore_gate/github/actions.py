"""GitHub Actions I/O: workflow commands (annotations, warnings, stop-commands), step outputs,
the job summary. `Actions` is made once at the edge (the action's entry point, the `publish`
command) and passed to whatever writes.

Report text is untrusted: workflow-command data and properties are percent-encoded
so a name cannot start a command of its own, multi-line outputs use a random
delimiter that the value cannot contain, and text from the branch is printed only
between `::stop-commands::TOKEN` and `::TOKEN::` (a fresh random token each time).
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from restore_gate.present.markdown import visible

MAX_OUTPUT_BYTES = 64 * 1024  # per step output; GitHub allows 1 MB for all of a job's outputs
MAX_OUTPUT_LINES = 1000


def escape_data(text: str) -> str:
    return visible(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, message: str, **props: str | int) -> str:
    """`::error file=..,line=..,title=..::message` with everything encoded."""
    fields = ",".join(f"{k}={escape_property(str(v))}" for k, v in props.items() if v != "")
    return f"::{kind}{' ' + fields if fields else ''}::{escape_data(message)}"








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
        value = visible(value)  # no bidi or zero-width character reaches a later step
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        while delimiter in value:
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        blocks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(blocks))


def write_summary(path: Path, markdown: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(markdown if markdown.endswith("\n") else markdown + "\n")


@dataclass(frozen=True)
class Actions:
    """This process's Actions I/O. `enabled`: in a workflow, so workflow commands are printed;
    `output` / `summary`: the GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, when given."""

    enabled: bool = False
    output: Path | None = None
    summary: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, enabled: bool | None = None) -> Actions:
        """From the runner's environment; `enabled` overrides GITHUB_ACTIONS (the container
        action always runs in a workflow)."""
        return cls(enabled=env.get("GITHUB_ACTIONS") == "true" if enabled is None else enabled,
                   output=Path(env["GITHUB_OUTPUT"]) if env.get("GITHUB_OUTPUT") else None,
                   summary=(Path(env["GITHUB_STEP_SUMMARY"])
                            if env.get("GITHUB_STEP_SUMMARY") else None))

    def emit(self, line: str) -> None:
        """A workflow command built by `command()` (printed only in a workflow)."""
        if self.enabled:
            print(line, flush=True)

    def annotate(self, level: str, message: str) -> None:
        """`::error title=restore-gate::message` (or warning/notice), the message encoded."""
        self.emit(command(level, message, title="restore-gate"))

    def warning(self, message: str) -> None:
        """A problem that never changes the verdict (publishing, a step file): on stderr, and
        as a warning annotation in a workflow."""
        print(f"restore-gate: warning: {message}", file=sys.stderr, flush=True)
        self.annotate("warning", message)

    def set_outputs(self, values: Mapping[str, str]) -> bool:
        """Append step outputs to GITHUB_OUTPUT; False when there is no such file."""
        if self.output is None:
            return False
        write_outputs(self.output, dict(values))
        return True

    def add_summary(self, markdown: str) -> bool:
        """Append Markdown to the job summary; False when there is no summary file."""
        if self.summary is None:
            return False
        write_summary(self.summary, markdown)
        return True

    @contextmanager
    def stop_commands(self) -> Iterator[None]:
        """Untrusted text (the branch's names, pip's output) printed inside this block cannot
        issue workflow commands: GitHub ignores them until the random token is echoed back."""
        if not self.enabled:
            yield
            return
        token = secrets.token_hex(16)
        print(f"::stop-commands::{token}", flush=True)
        try:
            yield
        finally:
            sys.stdout.flush()
            print(f"::{token}::", flush=True)
