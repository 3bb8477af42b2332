"""A metric's direction: which way is better, and so which threshold keys mean something.

Shared by the config's validation (settings) and the drift rules (judge).
"""

from __future__ import annotations

# metrics where a higher value is better; any other metric is treated as a loss/error
HIGHER_IS_BETTER = ("acc", "auc", "precision", "recall", "f1", "iou", "top_k")


def higher_is_better(metric: str) -> bool:
    return any(token in metric.lower() for token in HIGHER_IS_BETTER)


def direction_keys(metric: str) -> tuple[str, str]:
    """The (fail, warn) threshold keys that mean something for this metric's direction."""
    if higher_is_better(metric):
        return "max_drop", "warn_drop"
    return "max_increase", "warn_increase"
