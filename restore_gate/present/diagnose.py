"""The headline diagnosis: one or two sentences, computed from the mismatches, that say
what happened and where ("144 values in 61 layers changed shape: every one narrowed its
channels ×0.75 (e.g. `conv_1`: 576 → 432), defined at `model.py:5`").

Pure functions on the validated report dict; every report string goes through
`render.escape` / `render.code`. No TensorFlow here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from restore_gate.core.keys import optimizer_kind
from restore_gate.core.report import Divergence, DriftEntry, Report
from restore_gate.present.grouping import moved_from
from restore_gate.present.links import NO_LINKS, SourceLinks
from restore_gate.present.markdown import clip_code, clip_text, percent, source_cell, threshold_text
from restore_gate.present.state_text import (
    divergence_cause,
    lookup_findings,
    loss_scale_changed,
    precision_finding,
)
from restore_gate.present.view import as_report, report_data

NAME = 80  # characters of a name shown in a sentence


@dataclass(frozen=True)
class Finding:
    """One cause: `kind` names the pattern (for tests and ordering), `text` is Markdown."""

    kind: str
    text: str


def headline_sentences(report: Report | Mapping[str, Any], links: SourceLinks = NO_LINKS,
                       most: int = 2) -> str:
    """The first `most` findings as one paragraph (empty when there is nothing to explain)."""
    return " ".join(f.text for f in diagnose(report, links)[:most])


def diagnose(report: Report | Mapping[str, Any], links: SourceLinks = NO_LINKS
             ) -> list[Finding]:
    """Every pattern the report shows, most decisive first."""
    typed = as_report(report)
    mismatches = report_data(typed)["mismatches"]  # the structure findings still read keys
    blocking = [m for m in mismatches if not m.get("allowed")]
    findings = [*_errors(typed)]
    findings += _structure(blocking, links)
    data = report_data(typed)
    findings += _version_skew(typed, blocking)
    findings += [Finding(k, t) for k, t in lookup_findings(data)]
    findings += _precision_or_drift(typed, data, links)
    findings += _divergence(typed, links)
    findings += _optimizer(typed, data)
    return findings


def _precision_or_drift(report: Report, data: dict, links: SourceLinks) -> list[Finding]:
    """The drift finding, or one naming the compute dtype change that causes it."""
    drift = _drift(report, links)
    lead = drift[0].text.split(": ", 1)[1] if drift and ": " in drift[0].text else None
    precision = precision_finding(data, lead)
    return [Finding(*precision)] if precision else drift


# errors -------------------------------------------------------------------------------------
def _errors(report: Report) -> list[Finding]:
    errors = report.errors
    if not errors:
        return []
    first = errors[0]
    more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
    return [Finding("error", f"The gate could not decide: the {clip_text(first.stage, 20)} "
                             f"stage failed: {clip_text(_first_sentence(first.message), 300)}"
                             f"{more}.")]


def _first_sentence(text: str) -> str:
    head = re.split(r"(?<=[.;])\s", " ".join(str(text).split()), maxsplit=1)[0]
    return head.rstrip(".;")


# structure ----------------------------------------------------------------------------------
def _structure(blocking: list[dict], links: SourceLinks) -> list[Finding]:
    by_kind: dict[str, list[dict]] = {}
    for m in blocking:
        by_kind.setdefault(m["kind"], []).append(m)
    found: list[Finding] = []
    moved = [m for m in blocking if moved_from(m) and m["kind"] != "rename"]
    missing, unexpected = by_kind.get("missing", []), by_kind.get("unexpected", [])
    if moved:
        found.append(_moved(moved, missing, unexpected, links))
    if by_kind.get("shape"):
        found.append(_shapes([m for m in by_kind["shape"] if m not in moved] or by_kind["shape"],
                             links))
    if by_kind.get("dtype"):
        found.append(_dtypes(by_kind["dtype"], links))
    if by_kind.get("rename"):
        found.append(_renames(by_kind["rename"], links))
    if not moved:  # with a shift, the values at the end are pushed off, not new or removed
        found += _added_removed(missing, unexpected, links)
    return found


def _values_in(items: list[dict]) -> str:
    layers = _layers(items)
    values = f"{len(items)} value{'s' if len(items) != 1 else ''}"
    if len(layers) == 1:
        return f"{values} of {clip_code(layers[0], NAME)}"
    return f"{values} in {len(layers)} layers"


def _layers(items: list[dict]) -> list[str]:
    return list(dict.fromkeys(str(m.get("layer") or m["name"]) for m in items))


def _where(items: list[dict], links: SourceLinks, lead: str = ", defined") -> str:
    """", defined at X" when every value's layer is defined on one line, else the first."""
    sources = list(dict.fromkeys(m["source"] for m in items if m.get("source")))
    if not sources:
        return ""
    others = len(sources) - 1
    more = f" and {others} other line{'s' if others != 1 else ''}" if others else ""
    return f"{lead} at {source_cell(sources[0], links)}{more}"


def _dim_pairs(m: dict) -> list[tuple[int, int]] | None:
    old = (m.get("checkpoint") or {}).get("shape")
    new = (m.get("model") or {}).get("shape")
    if not isinstance(old, list) or not isinstance(new, list) or len(old) != len(new):
        return None
    pairs = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    if any(not isinstance(x, int) or x <= 0 for pair in pairs for x in pair):
        return None
    return pairs


def _shapes(items: list[dict], links: SourceLinks) -> Finding:
    pairs_of = [(m, _dim_pairs(m)) for m in items]
    pairs = [(m, p) for m, ps in pairs_of if ps for p in ps]
    lead = f"{_values_in(items)} changed shape"
    where = _where(items, links)
    if not pairs or any(ps is None for _, ps in pairs_of):
        first = items[0]
        return Finding("shape", f"{lead} (e.g. {clip_code(first['name'], NAME)}: "
                                f"{_shape(first.get('checkpoint'))} → {_shape(first.get('model'))})"
                                f"{where}.")
    distinct = list(dict.fromkeys(p for _, p in pairs))
    layers = _layers(items)
    if len(distinct) == 1:
        a, b = distinct[0]
        if len(layers) == 1:
            return Finding("output-size", f"{lead}: its size went {a} → {b}{where}.")
        return Finding("output-size", f"{lead}: one size went {a} → {b}, starting at "
                                      f"{clip_code(layers[0], NAME)}{where}.")
    scale = scale_factor([p for _, p in pairs])
    if scale is not None:
        factor, exact = scale
        m, (a, b) = max(pairs, key=lambda item: item[1])
        verb = "narrowed" if factor < 1 else "widened"
        rounded = "" if exact else ", rounded to multiples of 8"
        return Finding("scale", f"{lead}: every one {verb} its channels ×{factor:g}{rounded} "
                                f"(e.g. {clip_code(m.get('layer') or m['name'], NAME)}: "
                                f"{a} → {b}) — a width setting changed"
                                f"{_where(items, links, '')}.")
    first = items[0]
    return Finding("shape", f"{lead}, first {clip_code(first['name'], NAME)} "
                            f"({_shape(first.get('checkpoint'))} → {_shape(first.get('model'))})"
                            f"{where}.")


def scale_factor(pairs: list[tuple[int, int]]) -> tuple[float, bool] | None:
    """The one factor every (old, new) size follows, and whether exactly; inexact means
    within the rounding to a multiple of 8 that width multipliers do (Keras applications'
    `alpha`). None if there is no such factor."""
    if len(pairs) < 2:
        return None
    old, new = max(pairs)  # the largest size carries the least rounding
    factor = round(new / old, 2)
    if factor in (0.0, 1.0):
        return None
    exact = True
    for a, b in pairs:
        if (b - a) * (factor - 1) <= 0:
            return None
        off = abs(b - a * factor)
        if off >= 1:
            exact = False
            if b % 8 or off > max(16.0, 0.15 * a * factor):
                return None
    return factor, exact


def _shape(spec: dict | None) -> str:
    shape = (spec or {}).get("shape")
    if shape is None:
        return "?"
    return "scalar" if shape == [] else "×".join(map(str, shape))


def _dtypes(items: list[dict], links: SourceLinks) -> Finding:
    pairs = Counter(((m.get("checkpoint") or {}).get("dtype"), (m.get("model") or {}).get("dtype"))
                    for m in items)
    (old, new), count = pairs.most_common(1)[0]
    change = f"{clip_text(old, 40)} → {clip_text(new, 40)}"
    cause = (": a mixed-precision or dtype policy changed" if len(_layers(items)) > 1
             and any(t in str(new) for t in ("float16", "bfloat16")) else
             ": a layer's dtype or the dtype policy changed")
    every = "" if count == len(items) else f" (most of them {count})"
    return Finding("dtype", f"{_values_in(items)} changed dtype {change}{every}{cause}"
                            f"{_where(items, links)}.")


def _renames(items: list[dict], links: SourceLinks) -> Finding:
    pairs = list(dict.fromkeys(
        (str(m.get("checkpoint_name") or m["name"]).rsplit("/", 1)[0], str(m.get("layer")))
        for m in items))
    if all(a == b for a, b in pairs):  # one layer's values trade places, no layer renamed
        return _swapped(items, links)
    same_names = all(not m.get("checkpoint_name") or m["checkpoint_name"] == m["name"]
                     for m in items)
    if same_names:
        first = clip_code(items[0].get("layer") or items[0]["name"], NAME)
        return Finding("object-path", f"{_values_in(items)} are present under other object "
                                      f"paths: a layer was inserted or removed before {first}"
                                      f"{_where(items, links)}.")
    shown = ", ".join(f"{clip_code(a, NAME)} → {clip_code(b, NAME)}" for a, b in pairs[:3])
    more = f" and {len(pairs) - 3} more" if len(pairs) > 3 else ""
    layers = "layer" if len(pairs) == 1 else "layers"
    return Finding("renamed", f"Renamed {layers} {shown}{more}: {_values_in(items)} will not "
                              f"load under the new names{_where(items, links)}.")


def _swapped(items: list[dict], links: SourceLinks) -> Finding:
    """`affine/scale` now loads into `affine/shift` and back: add_weight calls reordered."""
    layer = str(items[0].get("layer") or items[0]["name"])
    names = list(dict.fromkeys(
        str(v).rsplit("/", 1)[-1] for m in items for v in (m.get("checkpoint_name"), m["name"])
        if v))
    shown = " ↔ ".join(clip_code(n, NAME) for n in names[:4])
    return Finding("swapped", f"Values swapped within layer {clip_code(layer, NAME)}: {shown} "
                              "— its weights are created in another order and the file keeps "
                              "a layer's values by position, so each loads into the other; "
                              "create them in the release's order (or release anew)"
                              f"{_where(items, links)}.")


def _moved(items: list[dict], missing: list[dict], unexpected: list[dict],
           links: SourceLinks) -> Finding:
    """Positional formats: a layer inserted or removed shifts the later layers' values."""
    first = items[0]
    layer = clip_code(first.get("layer") or first["name"], NAME)
    before = str(moved_from(first) or "")
    old_layer = clip_code(before.rsplit("/", 1)[0] if "/" in before else before, NAME)
    count = sum(1 for m in items if m.get("layer") == first.get("layer"))
    values = f"{count} value{'s' if count != 1 else ''}"
    at = _where([first], links, "")
    if missing and not unexpected:
        return Finding("inserted", f"A layer was inserted{at}: {layer} now takes the position "
                                   f"({values}) saved for {old_layer}, and the layers after "
                                   "it shift by one.")
    if unexpected and not missing:
        return Finding("removed", f"A layer was removed before {layer}{at}: it now takes the "
                                  f"position ({values}) saved for {old_layer}.")
    return Finding("moved", f"Layers shifted position: {layer}{at} now takes the {values} "
                            f"saved for {old_layer} — a layer was inserted or removed before "
                            "it.")


def _added_removed(missing: list[dict], unexpected: list[dict],
                   links: SourceLinks) -> list[Finding]:
    found = []
    if missing:
        found.append(Finding("inserted", f"{_named_layers(missing, 'new')} in the branch: "
                                         f"{_values_in(missing)} have no value in the "
                                         f"checkpoint{_where(missing, links)}."))
    if unexpected:
        found.append(Finding("removed", f"{_named_layers(unexpected, 'gone')} from the branch: "
                                        f"{_values_in(unexpected)} of the checkpoint are used "
                                        "by nothing."))
    return found


def _named_layers(mismatches: list[dict], state: str) -> str:
    """"Layer `a` is new" / "Layers `a`, `b`, `c` and 2 more are gone"."""
    layers = _layers(mismatches)
    names = ", ".join(clip_code(x, NAME) for x in layers[:3]) + (
        f" and {len(layers) - 3} more" if len(layers) > 3 else "")
    return f"Layer {names} is {state}" if len(layers) == 1 else f"Layers {names} are {state}"


# environment, behaviour, optimizer ----------------------------------------------------------
def _major(version: object) -> str | None:
    match = re.match(r"\s*(\d+)", str(version or ""))
    return match.group(1) if match else None


def _version_skew(report: Report, blocking: list[dict]) -> list[Finding]:
    written = report.checkpoint.written_by or {}
    release, here = written.get("keras"), report.runner.keras
    generation = written.get("keras_generation")
    if generation and _major(here) == str(generation):
        generation = None  # the release's Keras generation is this run's: no skew
    skew_notes = [n for n in report.notices if re.search(
        r"(?i)version skew|keras 2|tf\.keras", n)]
    if release and here and _major(release) != _major(here):
        cause = (f"the checkpoint was written by Keras {clip_text(release, 30)}, this run uses "
                 f"Keras {clip_text(here, 30)}")
    elif generation:
        writer = release if release and _major(release) == str(generation) else generation
        cause = f"the checkpoint was written by Keras {clip_text(writer, 30)}" + (
            f", this run uses Keras {clip_text(here, 30)}" if here else "")
    elif skew_notes:
        cause = clip_text(skew_notes[0].rstrip("."), 300)
        cause = cause[:1].lower() + cause[1:]
    else:
        return []
    unexplained = all(m["kind"] in ("missing", "unexpected") or (
        m["kind"] == "rename" and m.get("checkpoint_name") in (None, m["name"])) for m in blocking)
    if blocking and unexplained:
        return [Finding("version", f"Version skew is the likely cause: {cause}.")]
    return [Finding("version", f"Note: {cause}.")]


def _drift(report: Report, links: SourceLinks) -> list[Finding]:
    failed = [d for d in report.drift if not d.ok and d.level == "fail"]
    if not failed:
        return []
    metrics = [d for d in failed if d.kind == "metric"]
    outputs = [d for d in failed if d.kind != "metric"]
    parts = [_metric_change(d) for d in metrics[:2]]
    if outputs:
        d = outputs[0]
        value = f" by up to {d.value:.3g}" if d.value is not None else ""
        name = str(d.name).removesuffix(" max abs error")
        parts.append(f"{'outputs' if d.kind == 'output' else clip_text(d.kind, 10)} "
                     f"{clip_code(name, NAME)} differ{value} "
                     f"({clip_text(d.threshold, 80)})")
    shown = min(len(metrics), 2) + (1 if outputs else 0)
    more = len(failed) - shown - max(len(outputs) - 1, 0)
    tail = f" (and {more} more checks)" if more > 0 else ""
    structural = any(not m.allowed for m in report.mismatches)
    lead = "Behaviour drifts" if structural else "Weights restore cleanly, but behaviour drifts"
    return [Finding("drift", f"{lead}: {'; '.join(parts)}{tail}.")]


def divergence_text(found: Divergence | Mapping[str, Any], links: SourceLinks = NO_LINKS) -> str:
    """"Outputs first diverge after `hidden` (`net.py:8`): max abs error 0.48"."""
    if not isinstance(found, Divergence):
        found = Divergence.from_dict(found)
    where = f" ({source_cell(found.source, links)})" if found.source else ""
    error = found.error
    amount = f"max abs error {error:.3g}" if isinstance(error, (int, float)) else "not a number"
    sketch = " in its fingerprint" if found.projected else ""
    new = found.unmatched_before or []
    after = (f", right after {', '.join(clip_code(n, NAME) for n in new)} (not in the release)"
             if new else "")
    layer = "?" if found.layer is None else found.layer
    return (f"Outputs first diverge after {clip_code(layer, NAME)}{where}: "
            f"{amount}{sketch}{after}{divergence_cause(found)}")


def _divergence(report: Report, links: SourceLinks) -> list[Finding]:
    found = report.extra.divergence
    return [Finding("divergence", divergence_text(found, links) + ".")] if found else []


def _metric_change(d: DriftEntry) -> str:
    """`loss` 0.0888 → 0.256 (+189 % vs max +5 %)."""
    name = clip_code(d.name, NAME)
    if d.baseline is None or d.value is None:
        return f"{name} could not be measured ({clip_text(d.note, 120)})"
    change = percent(d.baseline, d.value) or f"{d.value - d.baseline:+.3g}"
    return f"{name} {d.baseline:.3g} → {d.value:.3g} ({change} vs {threshold_text(d)})"


def _optimizer(report: Report, data: dict) -> list[Finding]:
    state = report.optimizer
    if state is None:
        return []
    old, new = state.checkpoint_type, state.model_type
    changed = bool(old and new and optimizer_kind(old) != optimizer_kind(new))
    if state.ok and not changed:
        return []
    if changed and loss_scale_changed(data) and (data.get("extra") or {}).get("compute_dtype"):
        return []  # the precision finding says it: LossScaleOptimizer follows the policy
    blocks = "" if state.ok else (
        f" (this blocks: checkpoint.optimizer is {clip_text(state.policy, 20)})")
    if changed:
        return [Finding("optimizer", f"The optimizer changed {clip_text(old, 40)} → "
                                     f"{clip_text(new, 40)}: its state does not restore{blocks}.")]
    hint = str(state.hint or "")
    if hint.startswith("TensorFlow refuses"):  # judge/compare.py _refused
        return [Finding("optimizer", f"{clip_text(_first_sentence(hint), 300)}{blocks}.")]
    return [Finding("optimizer", f"The optimizer state does not restore "
                                 f"({clip_text(state.status, 20)}){blocks}.")]


