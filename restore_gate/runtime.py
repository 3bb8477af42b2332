"""TensorFlow, imported lazily and only by the stages that need it, on the chosen device."""

from __future__ import annotations

import logging
import os
import platform
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from restore_gate.errors import GateError

DEVICES = ("cpu", "gpu", "auto")
INSTALL_HINT = (
    "install TensorFlow into this environment: pip install 'restore-gate[tensorflow]' "
    "(or your project's own pinned tensorflow / tensorflow[and-cuda])"
)


def prepare_device(device: str) -> None:
    """Hide GPUs before TensorFlow is imported when the CPU is asked for."""
    if device not in DEVICES:
        raise GateError("config", f"unknown device {device!r}", "use --device cpu, gpu or auto")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"


VERBOSE = "RESTORE_GATE_VERBOSE"  # set by --verbose: TensorFlow's own messages are shown
# what TensorFlow's C++ side prints while it starts, whatever TF_CPP_MIN_LOG_LEVEL says:
# absl's banner and glog-style lines ("I0000 00:00:... port.cc:153] oneDNN custom operations")
_STARTUP = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|"
                      r"[IWE]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] )")


def verbose() -> bool:
    return os.environ.get(VERBOSE) == "1"


def import_tensorflow(stage: str = "build") -> ModuleType:
    """Import TensorFlow or explain how to get it. Its start-up lines are dropped unless
    --verbose (any other line it prints is passed on), and so are the tf.function retracing
    warnings that the gate's own repeated predictions cause."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    try:
        with _startup_lines_dropped():
            import tensorflow as tf
    except ImportError as exc:
        raise GateError(stage, f"TensorFlow is not installed ({exc})", INSTALL_HINT,
                        code="tensorflow-missing") from exc
    if not verbose():
        logging.getLogger("tensorflow").addFilter(_no_retracing)
    return tf


def _no_retracing(record: logging.LogRecord) -> bool:
    return "triggered tf.function retracing" not in record.getMessage()


@contextmanager
def _startup_lines_dropped() -> Iterator[None]:
    """Send file descriptor 2 to a temporary file while TensorFlow starts, then replay every
    line that is not a start-up line (nothing else is lost)."""
    if verbose():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded): nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = [line for line in caught.read().decode("utf-8", "replace").splitlines()
                    if not _STARTUP.match(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)


def describe_device(device: str) -> dict[str, Any]:
    """The runner block of the report: device kind and name, TF32 state, versions."""
    tf = import_tensorflow()
    import keras

    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise GateError(
            "build",
            "--device gpu was asked for, but TensorFlow sees no GPU on this runner",
            "run on a GPU runner with a CUDA build of TensorFlow (tensorflow[and-cuda]), "
            "check `nvidia-smi` and `--gpus all`, or use --device cpu",
            code="no-gpu",
        )
    use_gpu = bool(gpus) and device != "cpu"
    if use_gpu:
        details = tf.config.experimental.get_device_details(gpus[0])
        name = details.get("device_name", gpus[0].name)
    else:
        name = _cpu_name()
    return {
        "name": os.environ.get("RUNNER_NAME") or platform.node() or "local",
        "device": "GPU" if use_gpu else "CPU",
        "device_name": name,
        "tf32": bool(use_gpu and tf.config.experimental.tensor_float_32_execution_enabled()),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
