"""The drift stage of `check`: the restored branch model against the release's behaviour."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from restore_gate.core.checkpoint import CheckpointInfo
from restore_gate.core.report import DriftEntry
from restore_gate.core.results import Measurement, MeasurementFailed
from restore_gate.core.variables import BuiltModel
from restore_gate.errors import GateError
from restore_gate.evaluation import evaluate, model_state
from restore_gate.evaluation.baseline import Baseline, from_config, from_manifest
from restore_gate.evaluation.trace import divergence_block, fingerprints
from restore_gate.git import remove_worktree, repo_root, worktree
from restore_gate.judge.drift import (
    DEFAULT_MAX_TOP1_CHANGED,
    DEFAULT_TOLERANCES,
    compare_metric,
    compare_outputs,
    regime,
    tolerance,
    unjudged_metric,
    unjudged_outputs,
)
from restore_gate.release.source import CheckpointSource
from restore_gate.restore.restore import restored_model
from restore_gate.settings.config import Config

PARITY_SAMPLES = 16
PARITY_VALUES = 4096


def measure(
    config: Config, built: BuiltModel, source: CheckpointSource, runner: dict[str, Any],
    rebuild: Any = None,
) -> Measurement:
    """Output, top-1 and metric drift entries (and parity data) of the restored branch model.

    The baseline is the bundle's record, else the release's code rebuilt by `rebuild(golden,
    data)` (a git ref), else baseline values in the config, else "not measured". Raises
    `MeasurementFailed` (with what was measured) when the outputs cannot be compared.
    """
    baseline = from_manifest(source.manifest, source.bundle_dir)
    data = _eval_data_if_needed(config)
    if baseline is not None and baseline.golden_inputs is not None:
        golden = baseline.golden_inputs
    else:
        golden = _golden_or_none(config, built, data, required=rebuild is not None)
    result = evaluate.run(built.model, config, golden, data)
    if baseline is None and rebuild is not None:
        baseline = rebuild(golden, data)
    if baseline is None:
        baseline = from_config(config.baseline.metrics)
    thresholds = config.thresholds
    measured = Measurement(
        golden_outputs=_parity_sample(result.output_names, result.golden_outputs),
        thresholds={"devices": thresholds.get("devices")},
    )
    drift: list[DriftEntry] = []
    notices: list[str] = []
    divergence = None
    if baseline is not None and baseline.golden_outputs is not None:
        tol = tolerance(thresholds.get("outputs"), DEFAULT_TOLERANCES[_regime(runner)])
        top1 = (thresholds.get("outputs") or {}).get("max_top1_changed", DEFAULT_MAX_TOP1_CHANGED)
        try:
            aligned = _align(baseline.output_names, result)
        except GateError as error:
            raise MeasurementFailed(measured, error) from error
        drift += compare_outputs(baseline.output_names, baseline.golden_outputs, aligned, tol,
                                 top1)
        divergence = _trace(drift, notices, baseline, built, golden, tol)
    else:
        drift.append(unjudged_outputs(result.golden_outputs))
    drift += _metric_entries(config, baseline, result)
    state = _state(notices, source, built)
    if baseline is None:
        notices.append(
            "Drift not measured: the release is a bare checkpoint. Release it with "
            "`restore-gate snapshot`, set baseline.ref (the release's git tag) or write "
            "baseline.metrics in the config."
        )
    return replace(measured, drift=tuple(drift), notices=tuple(notices), divergence=divergence,
                   baseline_source=None if baseline is None else baseline.source, state=state)


def _trace(drift: list[DriftEntry], notices: list[str], baseline: Baseline, built: BuiltModel,
           golden: Any, tol: dict[str, float]) -> dict[str, Any] | None:
    """When outputs drift: the first layer whose output differs from the release's."""
    if not any(d.kind == "output" and not d.ok for d in drift):
        return None
    try:
        found = divergence_block(baseline.fingerprints, built.model, golden, tol,
                                 built.source_of)
    except Exception as exc:  # tracing only explains a drift already judged: never an error
        notices.append(f"The first diverging layer could not be traced: "
                       f"{type(exc).__name__}: {str(exc)[:200]}")
        return None
    if found:
        return found
    if not isinstance(baseline.fingerprints, list):
        notices.append("The first diverging layer is not named: the release has no "
                       "per-layer fingerprints (a bundle written before them, or a "
                       "model that could not be traced); re-release with "
                       "`restore-gate snapshot` to have it.")
    else:
        notices.append("The first diverging layer is not named: no traced layer's "
                       "output differs from the release's beyond the tolerance (the "
                       "difference is below the fingerprint's resolution, or in an "
                       "operation outside the model's layers).")
    return None


def _state(notices: list[str], source: CheckpointSource, built: BuiltModel) -> dict[str, Any]:
    """What changed in state the weights do not hold (vocabularies, compute dtypes)."""
    try:
        return model_state.compare(source.manifest, built.model)
    except Exception as exc:  # it only explains: never an error
        notices.append(f"The lookup vocabularies and compute dtypes could not be "
                       f"compared: {type(exc).__name__}: {str(exc)[:200]}")
        return {}


def _golden_or_none(config: Config, built: BuiltModel, data: Any, required: bool) -> Any:
    """Golden inputs for this run; None when they cannot be derived and nothing needs them
    (a bare checkpoint: they would only feed the CPU/GPU parity data)."""
    try:
        return evaluate.golden_inputs(built.model, data, config.evaluation.golden_samples,
                                      config.model.input_shape)
    except GateError:
        if required:
            raise
        return None


def _eval_data_if_needed(config: Config) -> Any:
    wanted = config.evaluation.metrics or config.thresholds.get("metrics")
    return evaluate.load_eval_data(config) if wanted or config.evaluation.data else None


def _align(names: list[str], result: evaluate.Evaluation) -> list[np.ndarray]:
    by_name = dict(zip(result.output_names, result.golden_outputs, strict=True))
    if set(names) <= set(by_name):
        return [by_name[n] for n in names]
    if len(names) == len(result.golden_outputs):
        return result.golden_outputs  # renamed outputs: compare by position
    raise GateError("evaluate", f"the branch model's outputs {result.output_names} do not "
                    f"match the release's {names}", "keep the model's outputs, or release anew")


def _metric_entries(
    config: Config, baseline: Baseline | None, result: evaluate.Evaluation
) -> list[DriftEntry]:
    rules = config.thresholds.get("metrics") or {}
    names = list(dict.fromkeys([*config.evaluation.metrics, *rules]))
    entries = []
    for name in names:
        if baseline is None:
            entries.append(unjudged_metric(name, result.metrics.get(name)))
            continue
        reason = result.metric_errors.get(name, "")
        if name not in result.metrics and not reason:
            reason = f"{name} is not listed in evaluation.metrics"
        if name not in baseline.metrics:
            reason = reason or f"the baseline ({baseline.source}) has no {name}"
        entries.append(compare_metric(name, baseline.metrics.get(name),
                                      result.metrics.get(name), rules.get(name), reason))
    return entries


def _regime(runner: dict[str, Any]) -> str:
    try:
        import keras

        policy = keras.config.dtype_policy().name
    except Exception:
        policy = None
    return regime(policy, runner.get("tf32"))


def _parity_sample(names: list[str], outputs: list[np.ndarray]) -> dict[str, list]:
    """A bounded slice of the golden outputs, so two runners' reports can be compared."""
    sample = {}
    for name, out in zip(names, outputs, strict=True):
        flat = np.asarray(out[:PARITY_SAMPLES], dtype=np.float64).reshape(-1)[:PARITY_VALUES]
        sample[name] = [float(v) for v in flat]
    return sample


def rebuild_at_ref(
    config: Config, ref: str, workdir: Path, info: CheckpointInfo, golden: Any, data: Any
) -> Baseline:
    """Build the release's model from `ref`'s code, restore the same checkpoint, measure it."""
    repo = repo_root(config.root)
    if repo is None:
        raise GateError("evaluate", f"baseline ref {ref!r} given, but {config.root} is not in a "
                        "git repository", "run the check inside the repository's checkout")
    tree = worktree(repo, ref, workdir)
    try:
        sub_root = tree / config.root.resolve().relative_to(repo.resolve())
        ref_config = config.rooted(sub_root / config.path.name, sub_root)
        built, _ = restored_model(ref_config, info)
        result = evaluate.run(built.model, config, golden, data)
        traced = _release_fingerprints(built.model, golden)
    finally:
        remove_worktree(repo, tree)
    return Baseline(source=f"release code at {ref}", golden_inputs=golden,
                    output_names=result.output_names, golden_outputs=result.golden_outputs,
                    metrics=result.metrics, fingerprints=traced)


def _release_fingerprints(model: Any, golden: Any) -> list[dict] | None:
    try:
        return fingerprints(model, golden) if golden is not None else None
    except Exception:  # the release's code may not be traceable: drift is still measured
        return None
