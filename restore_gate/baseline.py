"""The release's behaviour to compare against: from the bundle, a git ref, or the config.

In order: the bundle's recorded golden outputs and metrics; the release's code rebuilt
from a git ref (`--baseline-ref` / `baseline.ref`) with the same checkpoint restored;
baseline metric values written in the config; else nothing ("not measured").
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from restore_gate.errors import GateError

GOLDEN_FILE = "golden.npz"


@dataclass
class Baseline:
    source: str
    golden_inputs: Any = None
    output_names: list[str] = field(default_factory=list)
    golden_outputs: list[np.ndarray] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    fingerprints: list[dict] | None = None  # per-layer outputs on the golden inputs (trace.py)


def save_golden(path: Path, inputs: Any, names: list[str], outputs: list[np.ndarray]) -> None:
    """Golden inputs and outputs as a plain .npz (no pickled objects)."""
    arrays: dict[str, np.ndarray] = {}
    if isinstance(inputs, dict):
        arrays.update({f"input:{k}": np.asarray(v) for k, v in inputs.items()})
    elif isinstance(inputs, (list, tuple)):
        arrays.update({f"input:#{i}": np.asarray(v) for i, v in enumerate(inputs)})
    else:
        arrays["input"] = np.asarray(inputs)
    arrays.update({f"output:{n}": np.asarray(o) for n, o in zip(names, outputs, strict=True)})
    np.savez_compressed(path, **arrays)


def load_golden(path: Path) -> tuple[Any, list[str], list[np.ndarray]]:
    """The golden arrays of an untrusted bundle: sizes are checked before anything inflates."""
    from restore_gate.limits import MAX_GOLDEN_BYTES, check_npz_headers, check_zip

    hint = "re-create the bundle with `restore-gate snapshot` (fewer evaluation.golden_samples " \
           "make a smaller golden.npz)"
    check_zip(path, {}, MAX_GOLDEN_BYTES, "fetch", hint, total_cap=MAX_GOLDEN_BYTES)
    check_npz_headers(path, "fetch", hint)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise GateError("fetch", f"cannot read golden outputs {path}: {exc}",
                        "re-create the bundle with `restore-gate snapshot`") from exc
    names = [k.split(":", 1)[1] for k in arrays if k.startswith("output:")]
    outputs = [arrays[f"output:{n}"] for n in names]
    if "input" in arrays:
        inputs: Any = arrays["input"]
    elif any(k.startswith("input:#") for k in arrays):
        inputs = [arrays[k] for k in sorted(
            (k for k in arrays if k.startswith("input:#")), key=lambda k: int(k[7:]))]
    else:
        inputs = {k.split(":", 1)[1]: v for k, v in arrays.items() if k.startswith("input:")}
    return inputs, names, outputs


def from_manifest(manifest: dict[str, Any] | None, bundle_dir: Path | None) -> Baseline | None:
    """Golden outputs and metrics recorded by `snapshot`."""
    if not manifest or not (manifest.get("golden") or manifest.get("metrics")):
        return None
    baseline = Baseline(source="release bundle", metrics=dict(manifest.get("metrics") or {}))
    if isinstance(manifest.get("fingerprints"), list):
        baseline.fingerprints = manifest["fingerprints"]
    golden = manifest.get("golden")
    if golden and bundle_dir is not None:
        path = (bundle_dir / golden["file"]).resolve()
        if not path.is_relative_to(bundle_dir.resolve()) or not path.is_file():
            raise GateError("fetch", f"the bundle's golden file {golden['file']!r} is missing",
                            "re-create the bundle with `restore-gate snapshot`")
        inputs, names, outputs = load_golden(path)
        baseline.golden_inputs = inputs
        baseline.output_names, baseline.golden_outputs = names, outputs
    return baseline


def from_config(values: dict[str, float] | None) -> Baseline | None:
    if not values:
        return None
    return Baseline(source="baseline.metrics in the config", metrics=dict(values))


def worktree(repo: Path, ref: str, parent: Path) -> Path:
    """Check out `ref` in a temporary git worktree (the release's own code)."""
    target = Path(tempfile.mkdtemp(prefix="baseline-", dir=parent))
    result = subprocess.run(
        ["git", "-C", str(repo), "worktree", "add", "--detach", str(target), ref],
        capture_output=True, text=True, timeout=120,
    )
    if result.returncode != 0:
        raise GateError("evaluate", f"cannot check out baseline ref {ref!r}: "
                        f"{result.stderr.strip().splitlines()[-1] if result.stderr else ''}",
                        "fetch the release tag (actions/checkout with fetch-depth: 0) or fix "
                        "--baseline-ref / baseline.ref")
    return target


def remove_worktree(repo: Path, path: Path) -> None:
    subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(path)],
                   capture_output=True, timeout=120)


FETCH_BASE = ("check the ref's spelling; in GitHub Actions, fetch the base commit: "
              "actions/checkout with `fetch-depth: 2`, or `git fetch origin <sha>` before the gate")


def resolve_commit(repo: Path, ref: str, option: str = "--base") -> str:
    """The full sha of the commit `ref` names; a GateError (exit 2) when git cannot resolve
    it (a typo, or a commit a shallow checkout did not fetch): never "no such config"."""
    if not ref or ref.startswith("-"):
        raise GateError("config", f"{option} {ref!r} is not a git ref", FETCH_BASE)
    result = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if result.returncode != 0:
        raise GateError("config", f"{option} {ref!r} does not name a commit in the checkout at "
                        f"{repo}, so the gate cannot read the base commit's settings and will not "
                        "let the pull request's own decide", FETCH_BASE)
    return result.stdout.decode().strip()


def git_file(repo: Path, commit: str, path: str, label: str) -> str | None:
    """A regular file's text at `commit`, looked up by `path` as given (no symlink followed);
    None only when git says the commit has no entry there. A symlink, a folder, a submodule
    or any other git failure is a GateError: it must not read as "no such file"."""
    entry = _entry(repo, commit, path, label)
    if entry is None:
        return None
    path, (mode, kind, oid) = entry
    if mode == "120000" or kind != "blob":
        what = "a symlink" if mode == "120000" else f"a {kind} (not a file)"
        raise GateError("config", f"{path} at {label} is {what}",
                        "the gate reads the config and its threshold file by their own paths, "
                        "never through a link: commit the file itself there, or name the real "
                        "file (--config / the action's `config:` input, or `thresholds:`)")
    blob = _git(repo, "cat-file", "blob", oid)
    if blob.returncode != 0:
        raise GateError("config", f"git cannot read {path} at {label}", FETCH_BASE)
    try:
        return blob.stdout.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GateError("config", f"{path} at {label} is not UTF-8 text",
                        "save the file as UTF-8") from exc


def _entry(repo: Path, commit: str, path: str, label: str) -> tuple[str, tuple] | None:
    """(path, entry) of the file at `path`, or of the first folder on the way that git lists
    as something else (a symlink to a folder: not "no such file"); None: git lists neither."""
    found = _tree_entry(repo, commit, path, label)
    if found is not None:
        return path, found
    parts = path.split("/")
    for folder in ("/".join(parts[:depth]) for depth in range(1, len(parts))):
        entry = _tree_entry(repo, commit, folder, label)
        if entry is None:
            return None
        if entry[1] != "tree":
            return folder, entry
    return None


def _tree_entry(repo: Path, commit: str, path: str, label: str) -> tuple[str, ...] | None:
    """(mode, type, object) of the entry git lists at `path` in `commit`; None: no entry."""
    listing = _git(repo, "ls-tree", "-z", "--full-tree", commit, "--", path)
    if listing.returncode != 0:
        raise GateError("config", f"git cannot list {path} at {label}: "
                        f"{listing.stderr.decode(errors='replace').strip()[-300:]}", FETCH_BASE)
    entries = [e.split(b"\t", 1) for e in listing.stdout.split(b"\0") if b"\t" in e]
    found = next((meta.split() for meta, name in entries if name == path.encode()), None)
    return None if found is None else tuple(part.decode() for part in found)


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "--literal-pathspecs", "-C", str(repo), *args],
                          capture_output=True, timeout=120, check=False)


def repo_root(path: Path) -> Path | None:
    result = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"],
                            capture_output=True, text=True, timeout=30)
    return Path(result.stdout.strip()) if result.returncode == 0 else None
