"""Custom training loops' checkpoints: `tf.train.Checkpoint(step=…, model=…, optimizer=…,
ema=…)`, whose model is one child among others (step counters, EMA shadows, other models,
TF's own `save_counter`).

When the configured model child (`checkpoint.root.model`) is not among the saved root's
children, TensorFlow's restore still reaches the model's trainable variables through the
optimizer's references (`optimizer/_trainable_variables/N`): the gate replays exactly that,
groups only those values as the model's, leaves the other children alone (never
"unexpected"), and names the missing child.
"""

from __future__ import annotations

from typing import Any

SAVE_COUNTER = "save_counter"  # tf.train.Checkpoint.save()'s own counter
TRAINABLE = ("_trainable_variables",)  # the Keras 3 optimizer's references to the model's
# children only a Keras model (or layer) has: `tf.train.Checkpoint(model)` roots at the model
MODEL_MARKERS = {"_tracked", "_operations", "_inbound_nodes", "_losses", "layers"}


def is_checkpoint_root(graph: Any) -> bool:
    """The saved root is a `tf.train.Checkpoint` holding children (it was `save()`d), not a
    model saved as the root."""
    names = {c.local_name for c in graph.nodes[0].children}
    return SAVE_COUNTER in names and not MODEL_MARKERS & names


def model_through_optimizer(graph: Any, optimizer_id: int | None) -> set[int]:
    """Node ids of the model variables the optimizer references (`_trainable_variables/N`)."""
    if optimizer_id is None:
        return set()
    found: set[int] = set()
    for child in graph.nodes[optimizer_id].children:
        if child.local_name in TRAINABLE:
            found |= {c.node_id for c in graph.nodes[child.node_id].children}
    return found


def root_names(graph: Any) -> list[str]:
    return sorted(c.local_name for c in graph.nodes[0].children if c.local_name != SAVE_COUNTER)


def missing_child_notice(graph: Any, model_name: str, restored: int, total: int) -> str:
    """Names the configured child the release does not have, and what TF restores instead."""
    names = root_names(graph)
    shown = ", ".join(f"`{n}`" for n in names[:8]) + (" …" if len(names) > 8 else "")
    guess = next((n for n in ("model", "net", "network") if n in names), None)
    fix = (f"rename the child back to `{guess}` (or set `checkpoint.root: {{model: {guess}}}`)"
           if guess else "set `checkpoint.root.model` to the release's model child")
    return (f"checkpoint.root.model is `{model_name}`, but the release's tf.train.Checkpoint "
            f"has no `{model_name}` child (its children: {shown}): as in plain TensorFlow, "
            f"the model restores only through the optimizer's references ({restored} of "
            f"{total} model variables; values the optimizer does not reference, such as "
            f"BatchNormalization statistics, keep their initial values); {fix}.")
