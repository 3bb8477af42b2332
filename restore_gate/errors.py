"""The one exception the gate raises for anything it cannot decide.

Every `GateError` carries the pipeline stage it happened in, a message that says
what went wrong and where, and a hint that says how to fix it. The CLI turns it
into an `error` verdict (exit 2); it is never reported as a pass.
"""

from __future__ import annotations

STAGES = ("config", "fetch", "inspect", "build", "restore", "evaluate", "publish")


class GateError(Exception):
    """A problem that stops the gate from reaching a pass/fail verdict."""

    def __init__(self, stage: str, message: str, hint: str = "") -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        super().__init__(message)
        self.stage = stage
        self.message = message
        self.hint = hint

    def as_dict(self) -> dict[str, str]:
        return {"stage": self.stage, "message": self.message, "hint": self.hint}

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


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
    )
