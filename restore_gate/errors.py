"""The one exception the gate raises for anything it cannot decide.

Every `GateError` carries the pipeline stage it happened in, a message that says
what went wrong, where (the file) and the value received, a hint that says how to fix it,
and a stable kebab-case `code` naming the kind of problem (`zip-bomb`, `stage-timeout`),
for tests and tools to match instead of message text (the code is not in the report). The
CLI turns it into an `error` verdict (exit 2); it is never reported as a pass.
"""

from __future__ import annotations

import re

STAGES = ("config", "fetch", "inspect", "build", "restore", "evaluate", "publish")
_CODE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


class GateError(Exception):
    """A problem that stops the gate from reaching a pass/fail verdict."""

    def __init__(self, stage: str, message: str, hint: str = "", code: str = "") -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        if code and not _CODE.fullmatch(code):
            raise ValueError(f"error code {code!r} is not kebab-case")
        super().__init__(message)
        self.stage = stage
        self.message = message
        self.hint = hint
        self.code = code or f"{stage}-failed"  # a kind without its own code yet: per stage

    def as_dict(self) -> dict[str, str]:
        return {"stage": self.stage, "message": self.message, "hint": self.hint}

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


def first_line(exc: BaseException) -> str:
    """`ValueError: its message's first line`: TensorFlow's errors run to many lines (a stack
    of ops), and a message shows one; just the type when the message is empty."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def raised(exc: BaseException) -> str:
    """What was raised, for messages: `SystemExit(0)`, `SystemExit`, `KeyboardInterrupt`,
    `ValueError('no model')`."""
    if isinstance(exc, SystemExit):
        return "SystemExit" if exc.code is None else f"SystemExit({exc.code!r})"
    return f"{type(exc).__name__}({str(exc)!r})" if str(exc) else type(exc).__name__


def stopped(stage: str, what: str, exc: BaseException, hint: str = "") -> GateError:
    """The error for branch code that exited or interrupted the gate (a `BaseException` that
    is not an `Exception`: `sys.exit()`, `exit()`, `KeyboardInterrupt`, `GeneratorExit`)."""
    return GateError(
        stage,
        f"{what} raised {raised(exc)}: branch code may not exit or interrupt the gate, so it "
        "cannot be judged",
        hint or "remove the sys.exit()/exit()/raise from the code it runs; return a value "
        "(or raise an ordinary exception with a message) instead",
        code="branch-code-exited",
    )
