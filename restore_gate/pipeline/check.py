"""`restore-gate check`: config → source → inspect → build → restore → compare → report.

Each stage runs inside `stage()`, which times it, prints a progress line and turns
a `GateError` into an `error` verdict; a stage that fails stops the pipeline.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from restore_gate import formats
from restore_gate.branch.build import build_model, build_optimizer_slots
from restore_gate.branch.strategy import describe as describe_strategy
from restore_gate.core.checkpoint import MODEL, OPTIMIZER, CheckpointInfo
from restore_gate.core.report import Report
from restore_gate.core.results import Measurement, MeasurementFailed, RestoreResult
from restore_gate.errors import GateError, stopped
from restore_gate.evaluation.measure import measure, rebuild_at_ref
from restore_gate.github import GitHub
from restore_gate.pipeline.deadline import StageLimit, stage_deadline, timeout_error
from restore_gate.pipeline.draft import ReportDraft
from restore_gate.release.base_commit import base_checkpoint_file
from restore_gate.release.bundle import digest
from restore_gate.release.source import CheckpointSource, prefetch, resolve
from restore_gate.restore.findings import positional_moves, version_skew
from restore_gate.restore.restore import (
    check_complete,
    needs_optimizer_slots,
    pair_release,
    restore_release,
)
from restore_gate.runtime import describe_device, prepare_device
from restore_gate.settings.base import (
    MAX_CHANGES,
    BaseDecision,
    apply_base,
    changes_notice,
    load_base_config,
)
from restore_gate.settings.config import DEFAULT_STAGE_SECONDS, Config, load_config


@dataclass(frozen=True)
class CheckOptions:
    config: Path
    checkpoint: str | None = None
    device: str = "cpu"
    quiet: bool = False
    base: str | None = None  # git ref whose config supplies the thresholds
    baseline_ref: str | None = None  # git ref of the release's code, for bare checkpoints
    fetch_only: Path | None = None  # the action's token-holding half: download, record, stop
    stage_timeout: float | None = None  # seconds per stage (default: config, then 600)
    on_abort: Callable[[Report], None] | None = None  # writes the report before a hard exit
    # the GitHub client, built by the edge (cli: GitHub.from_env) when a release is read
    github: Callable[[], GitHub] | None = None


NO_BASE = ("No base commit was given (--base REF), so this pull request's own settings "
           "(checkpoint source, thresholds, allow, baseline, optimizer policy) decided the "
           "verdict.")


class StageFailed(Exception):
    """Raised by `stage()` after the error was recorded in the report."""


def progress(message: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"restore-gate: {message}", file=sys.stderr, flush=True)


@contextmanager
def stage(report: ReportDraft, name: str, quiet: bool = False,
          limit: StageLimit | None = None) -> Iterator[None]:
    """Time a stage, print its progress, record its error; `limit` bounds its time."""
    progress(f"{name} ...", quiet)
    start = time.perf_counter()
    try:
        with stage_deadline(name, limit):
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
            code="unexpected-exception",
        )
        traceback.print_exc()
        report.add_error(error)
        raise StageFailed from exc
    except BaseException as exc:  # sys.exit()/KeyboardInterrupt/...: fail closed, never exit 0
        traceback.print_exc()
        error = stopped(name, f"code run by the {name} stage (branch code: the builder, a "
                        "custom layer, a data or metric function)", exc)
        report.add_error(error)
        progress(f"{name} failed: {error}", quiet)
        raise StageFailed from exc
    finally:
        report.timings[name] = round(time.perf_counter() - start, 3)
    progress(f"{name}: done in {report.timings[name]:.1f} s", quiet)


def run_check(options: CheckOptions) -> Report:
    """Run the whole gate and return the decided report (never raises a GateError)."""
    report = ReportDraft()
    with tempfile.TemporaryDirectory(prefix="restore-gate-") as workdir, suppress(StageFailed):
        _pipeline(options, report, Path(workdir))
    if not options.base and not report.errors:  # an error: no settings decided anything
        report.notices.append(NO_BASE)
    report.decide()
    return report.freeze()


def _pipeline(options: CheckOptions, report: ReportDraft, workdir: Path) -> None:
    quiet = options.quiet
    abort = _overrun(options, report, workdir)
    limit = StageLimit(options.stage_timeout or DEFAULT_STAGE_SECONDS, abort)
    with stage(report, "config", quiet, limit):
        config = load_config(options.config)
        if options.fetch_only is None:
            prepare_device(options.device)
        if options.base:
            config = apply_base_thresholds(config, options.base, report, workdir)
    limit = StageLimit(options.stage_timeout or config.limits.stage_seconds, abort)
    with stage(report, "fetch", quiet, limit):
        if options.fetch_only is not None:  # no branch code runs in this process
            prefetch(options.checkpoint, config, options.fetch_only, options.github)
            return
        source = resolve(options.checkpoint, config, workdir, options.github)
        report.notices.extend(source.notices)
    if source.path is None:  # no release yet: nothing to restore, the notice says why (pass)
        return
    with stage(report, "inspect", quiet, limit):
        info = formats.read(source.path, config.checkpoint.format)
        report.checkpoint = _checkpoint_block(source, info)
    with stage(report, "build", quiet, limit):
        report.runner = describe_device(options.device)
        built = build_model(config, build_optimizer=False)
        if needs_optimizer_slots(config, info, built):
            build_optimizer_slots(built)
        report.notices += built.notices
        report.model = {
            "builder": config.model.builder,
            "variables": len(built.variables),
            "optimizer": built.optimizer_type,
        }
        if built.strategy is not None:
            report.model["strategy"] = describe_strategy(built.strategy)
    with stage(report, "restore", quiet, limit):
        paired = pair_release(config, info, built)
        _record_pairing(report, paired)  # kept in the report if restoring fails
        restored = restore_release(config, info, built, paired)
        report.model["restored"] = restored.verified
        check_complete(restored, built)
        report.mismatches += positional_moves(info, source, restored.model, built)
        report.notices[:0] = version_skew(report.checkpoint.get("written_by", {}), report.runner)
    if not hasattr(built.model, "predict"):
        report.notices.append("Drift not measured: the branch model is not a Keras model "
                              "(it has no predict), so only its variables are checked.")
        return
    if (restored.verified or 0) < len(built.variables):
        report.notices.append("Drift not measured: not every weight of the branch model "
                              "restores from the release.")
        return
    with stage(report, "evaluate", quiet, limit):
        rebuild = None
        ref = options.baseline_ref or config.baseline.ref
        if ref:
            def rebuild(golden, data):
                return rebuild_at_ref(config, ref, workdir, info, golden, data)
        try:
            measurement = measure(config, built, source, report.runner, rebuild)
        except MeasurementFailed as failed:
            _record_measurement(report, failed.partial)
            raise failed.error from failed
        _record_measurement(report, measurement)


def _record_pairing(report: ReportDraft, paired: RestoreResult) -> None:
    report.mismatches = list(paired.mismatches)
    report.notices += paired.notices
    report.optimizer = paired.optimizer_state


def _record_measurement(report: ReportDraft, measured: Measurement) -> None:
    report.extra["golden_outputs"] = measured.golden_outputs
    report.extra["thresholds"] = measured.thresholds
    report.drift += measured.drift
    report.notices += measured.notices
    if measured.divergence is not None:
        report.extra["divergence"] = measured.divergence
    if measured.baseline_source is not None:
        report.extra["baseline"] = measured.baseline_source
    report.extra.update(measured.state)


def _overrun(options: CheckOptions, report: ReportDraft,
             workdir: Path) -> Callable[[str, float], None] | None:
    """The watchdog's last resort (CLI only): write the report with the error, exit 2."""
    if options.on_abort is None:
        return None
    on_abort = options.on_abort

    def abort(name: str, seconds: float) -> None:
        try:
            report.add_error(timeout_error(name, seconds, killed=True))
            report.decide()
            on_abort(report.freeze())
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            os._exit(2)
    return abort








def apply_base_thresholds(config: Config, base: str, report: ReportDraft,
                          workdir: Path | None = None) -> Config:
    """The config to check with: the base commit's verdict-deciding settings (checkpoint
    source, thresholds, allow, baseline, optimizer policy: settings/base.py) and the base's
    version of a checkpoint file the repository tracks. The pull request's changes to them are
    listed in a notice and in the report."""
    base_config, relative = load_base_config(config, base)
    if base_config is None:
        report.notices.append(f"The base commit {base} has no {relative}: this pull request's "
                              "own settings (checkpoint source, thresholds, allow, baseline) "
                              "apply.")
        report.extra["base"] = BaseDecision(base, "pull request").to_dict(MAX_CHANGES)
        return config
    config, decision = apply_base(config, base_config, base)
    replaced = base_checkpoint_file(config, base, workdir) if workdir else None
    if replaced:
        decision = decision.with_change(
            f"checkpoint file {config.checkpoint.path} (changed by this pull request; the base "
            "commit's version is checked)")
        config = config.with_checkpoint_path(replaced)
    report.extra["base"] = decision.to_dict(MAX_CHANGES)
    if decision.changes:
        report.notices.append(changes_notice(base, list(decision.changes)))
    return config


def _checkpoint_block(source: CheckpointSource, info: CheckpointInfo) -> dict:
    written_by = dict(info.written_by)
    if source.manifest:
        written_by.update({k: v for k, v in source.manifest.get("versions", {}).items() if v})
        for key in ("device", "device_name"):
            if isinstance(source.manifest.get(key), str):
                written_by[key] = source.manifest[key]
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
