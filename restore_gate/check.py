"""`restore-gate check`: config → source → inspect → build → restore → compare → report.

Each stage runs inside `stage()`, which times it, prints a progress line and turns
a `GateError` into an `error` verdict; a stage that fails stops the pipeline.
"""

from __future__ import annotations

import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from restore_gate import formats
from restore_gate.build import build_model
from restore_gate.bundle import digest
from restore_gate.checkpoint import MODEL, OPTIMIZER, CheckpointInfo
from restore_gate.compare import find_mismatches, judge_optimizer, same_optimizer
from restore_gate.config import Config, load_config
from restore_gate.errors import GateError
from restore_gate.report import Report
from restore_gate.runtime import describe_device, prepare_device
from restore_gate.source import CheckpointSource, resolve


@dataclass
class CheckOptions:
    config: Path
    checkpoint: str | None = None
    device: str = "cpu"
    quiet: bool = False


class StageFailed(Exception):
    """Raised by `stage()` after the error was recorded in the report."""


def progress(message: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"restore-gate: {message}", file=sys.stderr, flush=True)


@contextmanager
def stage(report: Report, name: str, quiet: bool = False) -> Iterator[None]:
    """Time a stage, print its progress, record its error."""
    progress(f"{name} ...", quiet)
    start = time.perf_counter()
    try:
        yield
    except GateError as error:
        report.add_error(error)
        progress(f"{name} failed: {error}", quiet)
        raise StageFailed from error
    except Exception as exc:  # fail closed: an unforeseen crash is an error, never a pass
        error = GateError(
            name,
            f"unexpected {type(exc).__name__} while running the {name} stage: {exc}",
            "this is a restore-gate bug unless the message says otherwise: please report it "
            "with the traceback printed above",
        )
        traceback.print_exc()
        report.add_error(error)
        raise StageFailed from exc
    finally:
        report.timings[name] = round(time.perf_counter() - start, 3)


def run_check(options: CheckOptions) -> Report:
    """Run the whole gate and return the decided report (never raises a GateError)."""
    report = Report()
    with tempfile.TemporaryDirectory(prefix="restore-gate-") as workdir:
        try:
            _pipeline(options, report, Path(workdir))
        except StageFailed:
            pass
    report.decide()
    return report


def _pipeline(options: CheckOptions, report: Report, workdir: Path) -> None:
    quiet = options.quiet
    with stage(report, "config", quiet):
        config = load_config(options.config)
        prepare_device(options.device)
    with stage(report, "fetch", quiet):
        source = resolve(options.checkpoint, config, workdir)
        report.notices.extend(source.notices)
    with stage(report, "inspect", quiet):
        info = formats.read(source.path, config.checkpoint_format)
        report.checkpoint = _checkpoint_block(source, info)
    with stage(report, "build", quiet):
        report.runner = describe_device(options.device)
        built = build_model(config)
        report.model = {
            "builder": config.builder,
            "variables": len(built.variables),
            "optimizer": built.optimizer_type,
        }
    with stage(report, "restore", quiet):
        _restore(config, info, built, report)


def _restore(config: Config, info: CheckpointInfo, built, report: Report) -> None:
    roots = config.section("checkpoint").get("root", {})
    model_pairing, optimizer_pairing = formats.pair(info, built, roots)
    report.mismatches = find_mismatches(model_pairing, built, config.allow)
    policy = config.optimizer_policy
    report.optimizer = judge_optimizer(
        policy, info.optimizer_type, info.group(OPTIMIZER), built, optimizer_pairing
    )
    restore_optimizer = policy != "ignore" and same_optimizer(info.optimizer_type, built)
    verified = formats.restore(
        info, built, roots, model_pairing, optimizer_pairing if restore_optimizer else None
    )
    report.model["restored"] = verified
    if model_pairing.clean and verified != len(built.variables):
        raise GateError(
            "restore",
            f"only {verified} of {len(built.variables)} model variables hold a checkpoint value",
            "report this with `restore-gate inspect --json` output",
        )


def _checkpoint_block(source: CheckpointSource, info: CheckpointInfo) -> dict:
    written_by = dict(info.written_by)
    if source.manifest:
        written_by.update({k: v for k, v in source.manifest.get("versions", {}).items() if v})
    files = [source.origin] if source.origin and source.origin.is_file() else info.files
    return {
        "source": source.description,
        "format": info.format,
        "digest": digest([f for f in files if f.is_file()]),
        "variables": len(info.group(MODEL)),
        "optimizer_values": len(info.group(OPTIMIZER)),
        "bytes": sum(f.stat().st_size for f in files if f.is_file()),
        "written_by": written_by,
        "manifest": source.manifest is not None,
    }
