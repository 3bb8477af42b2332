"""A time limit per `check` stage: a builder that never returns ends in `error`, not a hung job.

Two layers, because the stage runs untrusted branch code:

1. `SIGALRM` (main thread, POSIX): when the limit passes, the handler raises `_Alarm` in
   the main thread, between two Python bytecodes; it interrupts pure-Python loops and
   `time.sleep`, and TensorFlow/Keras as soon as the current op hands back to Python.
   `_Alarm` derives from `BaseException`, so branch code's `except Exception` (and the
   gate's own "not measured" handlers) do not swallow it. A stage that catches it anyway,
   or that outlives its limit without the alarm, still ends in the same error.
2. A watchdog thread, when the caller gives `on_overrun` (the CLI does): if the stage is
   still running `GRACE_SECONDS` after its limit (a C call that never returns, or branch
   code that ignored or replaced the alarm), it writes the report with the error and ends
   the process with exit code 2.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from restore_gate.errors import GateError

GRACE_SECONDS = 5.0  # after the limit, before the watchdog ends the process


@dataclass(frozen=True)
class StageLimit:
    """How long a stage may run, and what the watchdog does past the grace period."""

    seconds: float | None
    on_overrun: Callable[[str, float], None] | None = None


class _Alarm(BaseException):
    """Raised by the SIGALRM handler inside whatever the stage is running."""


def timeout_error(stage: str, seconds: float, killed: bool = False) -> GateError:
    how = (f"; it did not stop within {GRACE_SECONDS:g} s of being interrupted, so the "
           "process was ended" if killed else "")
    return GateError(
        stage,
        f"the {stage} stage did not finish within its time limit of {seconds:g} s{how}",
        "find what runs that long in this stage (a builder or data callable that loops or "
        "waits, a huge evaluation set); if it is legitimately slow, raise the limit with "
        "`limits: {stage_seconds: N}` in the config or `--stage-timeout N`",
        code="stage-timeout",
    )


@contextmanager
def stage_deadline(stage: str, limit: StageLimit | None) -> Iterator[None]:
    """Run the body under `limit` (None, or no seconds: no limit)."""
    seconds = limit.seconds if limit is not None else None
    on_overrun = limit.on_overrun if limit is not None else None
    if not seconds:
        yield
        return
    fired = threading.Event()

    def alarm(signum: int, frame: object) -> None:
        fired.set()
        raise _Alarm

    use_alarm = (hasattr(signal, "setitimer")
                 and threading.current_thread() is threading.main_thread())
    previous, outer = None, (0.0, 0.0)
    if use_alarm:
        previous = signal.signal(signal.SIGALRM, alarm)
        outer = signal.setitimer(signal.ITIMER_REAL, seconds)
    start = time.monotonic()
    watchdog = None
    if on_overrun is not None:
        watchdog = threading.Timer(seconds + GRACE_SECONDS, on_overrun, (stage, seconds))
        watchdog.daemon = True
        watchdog.start()
    try:
        try:
            yield
        finally:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
                if outer[0] > 0:  # someone else's alarm (e.g. pytest-timeout): put it back
                    left = max(outer[0] - (time.monotonic() - start), 0.001)
                    signal.setitimer(signal.ITIMER_REAL, left, outer[1])
            if watchdog is not None:
                watchdog.cancel()
    except BaseException as exc:  # the alarm, or whatever the stage raised once it fired
        if isinstance(exc, _Alarm) or fired.is_set():
            raise timeout_error(stage, seconds) from None
        raise
    if fired.is_set() or time.monotonic() - start > seconds:  # the alarm was swallowed
        raise timeout_error(stage, seconds)
