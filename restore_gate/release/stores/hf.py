"""`hf://owner/repo[/file][@revision]` on the Hugging Face Hub, through huggingface_hub (what
Keras 3's own `hf://` saving uses): the token from HF_TOKEN or the login file under HF_HOME,
the endpoint from HF_ENDPOINT.

The revision (default `main`) is resolved to its commit sha first (the model-info API), and
everything is downloaded at that sha: the sha is the release's identity (a pushed commit is a
new release), and a failing Hub is an error, never a stale cached snapshot. Without a file, the
repository's Keras layout (`config.json`, `metadata.json`, `model.weights.h5`, as Keras's
`model.save("hf://...")` writes it) is packed back into a `.keras` file, or its one checkpoint
file is taken."""

from __future__ import annotations

import contextlib
import os
import zipfile
from pathlib import Path
from typing import Any

from restore_gate.errors import GateError
from restore_gate.release.download import SUFFIXES, Fetched, safe_name
from restore_gate.release.stores import common

CREDENTIALS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
KERAS_LAYOUT = ("config.json", "metadata.json", "model.weights.h5")


def parse(uri: str) -> tuple[str, str | None, str]:
    """`hf://owner/repo/dir/file.keras@v1` -> ("owner/repo", "dir/file.keras", "v1")."""
    body, _, revision = uri.removeprefix("hf://").partition("@")
    parts = body.strip("/").split("/")
    if len(parts) < 2 or not all(parts):
        raise GateError("fetch", f"{uri!r} names no repository",
                        "write hf://OWNER/REPO[/FILE][@REVISION]", code="store-bad-uri")
    return "/".join(parts[:2]), "/".join(parts[2:]) or None, revision or "main"


def fetch(uri: str, settings: dict[str, Any]) -> Fetched:
    hub = common.client_module("huggingface_hub", "hf", uri)
    repo, file, revision = parse(uri)
    endpoint = os.environ.get("HF_ENDPOINT") or None
    api = hub.HfApi(endpoint=endpoint)
    with _errors(uri):
        sha = api.model_info(repo, revision=revision).sha
        shown = f"hf://{repo}@{sha[:12]}" + (f" ({revision})" if revision != sha else "")
        if file is None:
            files = api.list_repo_files(repo, revision=sha)
            file = None if set(KERAS_LAYOUT[::2]) <= set(files) else _one_checkpoint(files, uri)
        name = safe_name(file) if file else "model.keras"
        identity = {"endpoint": api.endpoint, "repo": repo, "sha": sha, "file": file}
        target = common.cache_target("hf", identity, name)
        description = f"{shown}: {file or 'Keras layout'}"
        if common.cached(target, None):
            return Fetched(target, description)
        with common.partial_file(name) as part:
            part.mkdir()
            if file:
                got = _get(hub, repo, file, sha, part, endpoint)
            else:
                got = _keras_file(hub, repo, files, sha, part, endpoint)
            common.land(got, target, None, description)
        return Fetched(target, description)


def _one_checkpoint(files: list[str], uri: str) -> str:
    found = [f for f in files if f.endswith(SUFFIXES)]
    if len(found) != 1:
        raise GateError("fetch", f"{uri} holds no Keras layout ({', '.join(KERAS_LAYOUT)}) and "
                        f"{len(found)} checkpoint files ({', '.join(found[:5]) or 'none'})",
                        "name the file: hf://OWNER/REPO/FILE", code="store-no-match")
    return found[0]


def _get(hub: Any, repo: str, file: str, sha: str, folder: Path, endpoint: str | None) -> Path:
    common.say(f"downloading hf://{repo}/{file}@{sha[:12]}")
    return Path(hub.hf_hub_download(repo, file, revision=sha, local_dir=folder,
                                    endpoint=endpoint, etag_timeout=30))


def _keras_file(hub: Any, repo: str, files: list[str], sha: str, folder: Path,
                endpoint: str | None) -> Path:
    """The `.keras` zip (config.json, metadata.json, model.weights.h5) of Keras's hf layout."""
    out = folder / "model.keras"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name in KERAS_LAYOUT:
            if name in files:
                archive.write(_get(hub, repo, name, sha, folder / "files", endpoint), name)
    return out


def _errors(uri: str) -> contextlib.AbstractContextManager[None]:
    """huggingface_hub's exceptions as exit-2 errors naming the repo and the token tried."""
    return common.translated(lambda exc: _error(uri, exc))


def _error(uri: str, exc: Exception) -> GateError | None:
    from huggingface_hub import errors

    tried = f"the Hub token ({common.credential_names(CREDENTIALS)}, or the login under " \
            "HF_HOME)"
    if isinstance(exc, errors.RepositoryNotFoundError):
        return GateError("fetch", f"{uri}: the repository does not exist, or is private "
                         f"and {tried} cannot read it", "fix the URI, or give the job a "
                         "read token in HF_TOKEN (a secret)", code="store-credentials")
    if isinstance(exc, errors.RevisionNotFoundError | errors.EntryNotFoundError):
        return GateError("fetch", f"{uri}: {type(exc).__name__} (no such revision or "
                         "file)", "fix the revision or file in the URI (a missing release "
                         "cannot be checked, so this is not a pass)",
                         code="store-not-found")
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, errors.HfHubHTTPError) and status in (401, 403):
        return GateError("fetch", f"{uri}: HTTP {status} with {tried}",
                         "fix the token in HF_TOKEN (it must be able to read the repository)",
                         code="store-credentials")
    if isinstance(exc, errors.HfHubHTTPError | errors.LocalEntryNotFoundError | OSError) or \
            type(exc).__module__.startswith(("httpx", "requests", "huggingface_hub")):
        return GateError("fetch", f"cannot read {uri} from the Hub "
                         f"({os.environ.get('HF_ENDPOINT') or 'huggingface.co'}) after "
                         f"retries: {type(exc).__name__}: {common.message(exc)}",
                         "check the network / HF_ENDPOINT and re-run the job (this is not "
                         "'no release yet')", code="store-failed")
    return None

