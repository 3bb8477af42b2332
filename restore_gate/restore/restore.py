"""Stage `restore`: pair the release's values with the branch's variables, judge, restore."""

from __future__ import annotations

from dataclasses import asdict, replace

from restore_gate import formats
from restore_gate.branch.build import build_model
from restore_gate.branch.strategy import scope as strategy_scope
from restore_gate.core.checkpoint import OPTIMIZER, CheckpointInfo
from restore_gate.core.pairing import Pairing
from restore_gate.core.results import RestoreResult
from restore_gate.core.variables import BuiltModel
from restore_gate.errors import GateError
from restore_gate.judge.compare import find_mismatches, judge_optimizer, same_optimizer
from restore_gate.settings.config import Config


def pair_release(config: Config, info: CheckpointInfo, built: BuiltModel) -> RestoreResult:
    """Pair and judge: which release value each branch variable takes, and what breaks."""
    roots = config.checkpoint.root
    model_pairing, optimizer_pairing = formats.pair(info, built, roots)
    mismatches = find_mismatches(model_pairing, built, asdict(config.allow))
    notices = (*model_pairing.notices, *optimizer_pairing.notices)
    policy = config.checkpoint.optimizer
    state = judge_optimizer(
        policy, info.optimizer_type, info.group(OPTIMIZER), built, optimizer_pairing
    )
    unnamed = info.optimizer_type is None and bool(info.group(OPTIMIZER))  # judged by pairing
    restore_optimizer = policy != "ignore" and (
        same_optimizer(info.optimizer_type, built) or (unnamed and optimizer_pairing.clean))
    if not info.group(OPTIMIZER):  # nothing to restore into it: the library's restore may run
        optimizer_pairing, restore_optimizer = Pairing(), True
    return RestoreResult(model_pairing, optimizer_pairing, state, tuple(mismatches), notices,
                         restore_optimizer)


def restore_release(config: Config, info: CheckpointInfo, built: BuiltModel,
                    paired: RestoreResult) -> RestoreResult:
    """Restore what `pair_release` paired; return it with the verified count."""
    roots = config.checkpoint.root
    optimizer = paired.optimizer if paired.restore_optimizer else None
    with strategy_scope(built.strategy):
        verified = formats.restore(info, built, roots, paired.model, optimizer)
    return replace(paired, verified=verified)


def check_complete(result: RestoreResult, built: BuiltModel) -> None:
    """A clean pairing restores every model variable; anything less is a restore-gate bug."""
    if result.model.clean and result.verified != len(built.variables):
        raise GateError(
            "restore",
            f"only {result.verified} of {len(built.variables)} model variables hold a "
            "checkpoint value",
            "report this with `restore-gate inspect --json` output",
            code="restore-incomplete",
        )


def restored_model(config: Config, info: CheckpointInfo) -> tuple[BuiltModel, Pairing]:
    """Build a model from `config` and restore the checkpoint into it (release or baseline);
    return it with the pairing of its variables."""
    built = build_model(config, build_optimizer=False)  # only the model is restored here
    roots = config.checkpoint.root
    model_pairing, _ = formats.pair(info, built, roots)
    with strategy_scope(built.strategy):
        formats.restore(info, built, roots, model_pairing, None)
    return built, model_pairing


def needs_optimizer_slots(config: Config, info: CheckpointInfo, built: BuiltModel) -> bool:
    """Whether to create the branch optimizer's slots (twice the model's memory for Adam):
    only when the release holds more optimizer state than the unbuilt optimizer has (its
    slots), and the policy checks it. A release saved before any training step holds just
    the iteration count and learning rate, as does the branch's unbuilt optimizer."""
    wanted = config.checkpoint.optimizer != "ignore"
    return wanted and len(info.group(OPTIMIZER)) > len(built.optimizer_variables)
