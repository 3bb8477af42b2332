"""`gs://bucket/key` and `gs://bucket/prefix/*.keras` through google-cloud-storage: Google's
Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, including the file
google-github-actions/auth writes, gcloud's ADC, the metadata server); `STORAGE_EMULATOR_HOST`
points it at an emulator (anonymous).

The release's identity is the object's generation and its md5 / crc32c; the download is pinned
to the generation and checked against the checksum by the client."""

from __future__ import annotations

import contextlib
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from restore_gate.errors import GateError
from restore_gate.release.download import Fetched, safe_name
from restore_gate.release.stores import common

CREDENTIALS = ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_AUTH_ACCESS_TOKEN",
               "STORAGE_EMULATOR_HOST")
RETRY_SECONDS = 30.0  # bounded retries of 429 / 5xx / connection errors
TIMEOUT = (10, 60)


def fetch(uri: str, settings: dict[str, Any]) -> Fetched:
    storage = common.client_module("google.cloud.storage", "gcs", uri)
    parts = urlsplit(uri)
    bucket_name, path = parts.netloc, parts.path.lstrip("/")
    if not bucket_name or not path:
        raise GateError("fetch", f"{uri!r} names no object", "write gs://BUCKET/KEY or a glob "
                        "such as gs://BUCKET/releases/*/model.keras", code="store-bad-uri")
    with _errors(uri):
        from google.cloud.storage.retry import DEFAULT_RETRY

        retry = DEFAULT_RETRY.with_timeout(RETRY_SECONDS)
        client = storage.Client(project=None)
        bucket = client.bucket(bucket_name)
        blob = _resolve(client, bucket, path, uri, retry)
        return _download(blob, retry)


def _resolve(client: Any, bucket: Any, path: str, uri: str, retry: Any) -> Any:
    prefix, is_glob = common.split_glob(path)
    if not is_glob:
        blob = bucket.get_blob(path, retry=retry, timeout=TIMEOUT)
        if blob is None:
            raise GateError("fetch", f"{uri} does not exist",
                            "fix the URI, or upload the release there (a missing release "
                            "cannot be checked, so this is not a pass)", code="store-not-found")
        return blob
    blobs = client.list_blobs(bucket, prefix=prefix, match_glob=path, retry=retry,
                              timeout=TIMEOUT)
    matches = [b for b in blobs if fnmatchcase(b.name, path)]
    return common.newest(matches, lambda b: b.name, lambda b: b.updated, uri)


def _download(blob: Any, retry: Any) -> Fetched:
    name = safe_name(blob.name)
    shown = f"gs://{blob.bucket.name}/{blob.name}"
    size = int(blob.size) if blob.size is not None else None
    identity = {"bucket": blob.bucket.name, "key": blob.name, "generation": blob.generation,
                "md5": blob.md5_hash, "crc32c": blob.crc32c, "size": size}
    target = common.cache_target("gcs", identity, name)
    description = f"{shown} (generation {blob.generation})"
    if common.cached(target, size):
        return Fetched(target, description)
    with common.partial_file(name) as part:
        meter = common.progress(shown, size)
        pinned = blob.bucket.blob(blob.name, generation=blob.generation)  # via the client's host
        with part.open("wb") as out:
            pinned.download_to_file(_Counting(out, meter), if_generation_match=blob.generation,
                                  retry=retry, timeout=TIMEOUT)
        meter.finish()
        common.land(part, target, size, shown)
    return Fetched(target, description)


class _Counting:
    """A file writer that reports progress."""

    def __init__(self, out: Any, meter: Any) -> None:
        self.out, self.meter = out, meter

    def write(self, data: bytes) -> int:
        self.meter.add(len(data))
        return self.out.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.out, name)


def _errors(uri: str) -> contextlib.AbstractContextManager[None]:
    """google-cloud-storage's exceptions as exit-2 errors naming the object and the credential
    tried."""
    return common.translated(lambda exc: _error(uri, exc))


def _error(uri: str, exc: Exception) -> GateError | None:
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth

    tried = f"Application Default Credentials ({common.credential_names(CREDENTIALS)})"
    if isinstance(exc, auth.DefaultCredentialsError | auth.RefreshError
                  | api.Unauthorized | api.Forbidden):
        return GateError("fetch", f"cannot read {uri} with the {tried}: "
                         f"{type(exc).__name__}: {common.message(exc)}",
                         "give the job credentials (google-github-actions/auth, or a service "
                         "account key in GOOGLE_APPLICATION_CREDENTIALS) with "
                         "storage.objects.get/list on the bucket",
                         code="store-credentials")
    if isinstance(exc, api.NotFound):
        return GateError("fetch", f"{uri}: not found (the bucket or object does not "
                         "exist, or was deleted while the gate read it)",
                         "fix the URI, or upload the release there (a missing release "
                         "cannot be checked, so this is not a pass)",
                         code="store-not-found")
    if isinstance(exc, api.RetryError | api.GoogleAPICallError | OSError) or type(
            exc).__module__.startswith(("google", "requests", "urllib3")):
        return GateError("fetch", f"reading {uri} failed after retries: "
                         f"{type(exc).__name__}: {common.message(exc)}",
                         "check the network / STORAGE_EMULATOR_HOST and re-run the job",
                         code="store-failed")
    return None



def upload(bundle: Path, uri: str, settings: dict[str, Any]) -> str:
    """Put the bundle at `gs://bucket/key`; returns what landed (with its generation)."""
    storage = common.client_module("google.cloud.storage", "gcs", uri)
    parts = urlsplit(uri)
    bucket_name, key = parts.netloc, parts.path.lstrip("/")
    if not bucket_name or not key or common.split_glob(key)[1]:
        raise GateError("publish", f"{uri!r} is not one object to upload to",
                        "write gs://BUCKET/KEY (no glob)", code="store-bad-uri")
    with _errors(uri):
        blob = storage.Client(project=None).bucket(bucket_name).blob(key)
        blob.upload_from_filename(str(bundle), timeout=TIMEOUT)
    return f"gs://{bucket_name}/{key} (generation {blob.generation})"
