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
