"""`s3://bucket/key` and `s3://bucket/prefix/*.keras` on S3 and S3-compatible stores (MinIO,
R2, ...), through boto3: AWS's credential chain (environment, web identity from
aws-actions/configure-aws-credentials, profiles, SSO, instance roles) and its endpoint settings
(`AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3`, or `checkpoint.endpoint`).

The release's identity is its version id (versioned buckets) and ETag; the download is pinned
to the version id, or re-checked against the ETag (an overwrite mid-download is an error)."""

from __future__ import annotations

import contextlib
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from restore_gate.errors import GateError
from restore_gate.release.download import Fetched, safe_name
from restore_gate.release.stores import common

CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
               "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")
DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
          "ExpiredToken", "InvalidToken", "AllAccessDisabled"}
MISSING = {"404", "NoSuchKey", "NoSuchBucket", "NoSuchVersion"}


def fetch(uri: str, settings: dict[str, Any]) -> Fetched:
    boto3 = common.client_module("boto3", "s3", uri)
    parts = urlsplit(uri)
    bucket, path = parts.netloc, parts.path.lstrip("/")
    if not bucket or not path:
        raise GateError("fetch", f"{uri!r} names no object", "write s3://BUCKET/KEY or a glob "
                        "such as s3://BUCKET/releases/*/model.keras", code="store-bad-uri")
    client = _client(boto3, settings)
    with _errors(uri, client):
        key = _resolve(client, bucket, path, uri)
        head = client.head_object(Bucket=bucket, Key=key)
        return _download(client, bucket, key, head, settings)


def _client(boto3: Any, settings: dict[str, Any]) -> Any:
    from botocore.config import Config

    config = Config(retries={"total_max_attempts": 4, "mode": "standard"},
                    connect_timeout=10, read_timeout=60)
    return boto3.session.Session().client("s3", endpoint_url=settings.get("endpoint"),
                                          config=config)


def _credential_method() -> str:
    """Where boto3's chain found the credentials it signed with ("env", "assume-role-with-web-
    identity", ...), through its public session API."""
    import boto3

    credentials = boto3.session.Session().get_credentials()
    return str(getattr(credentials, "method", None) or "unknown")


def _resolve(client: Any, bucket: str, path: str, uri: str) -> str:
    prefix, is_glob = common.split_glob(path)
    if not is_glob:
        return path
    matches = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        matches += [o for o in page.get("Contents", []) if fnmatchcase(o["Key"], path)]
    chosen = common.newest(matches, lambda o: o["Key"], lambda o: o["LastModified"], uri)
    return chosen["Key"]


def _download(client: Any, bucket: str, key: str, head: dict[str, Any],
              settings: dict[str, Any]) -> Fetched:
    name = safe_name(key)
    version = head.get("VersionId") if head.get("VersionId") not in (None, "null") else None
    etag, size = head["ETag"].strip('"'), int(head["ContentLength"])
    shown = f"s3://{bucket}/{key}"
    identity = {"endpoint": client.meta.endpoint_url, "bucket": bucket, "key": key,
                "version": version, "etag": etag, "size": size}
    target = common.cache_target("s3", identity, name)
    description = f"{shown} (ETag {etag}{f', version {version}' if version else ''})"
    if common.cached(target, size):
        return Fetched(target, description)
    with common.partial_file(name) as part:
        meter = common.progress(shown, size)
        extra = {"VersionId": version} if version else None
        client.download_file(bucket, key, str(part), ExtraArgs=extra, Callback=meter.add)
        meter.finish()
        _verify(client, bucket, key, part, etag, version, shown)
        common.land(part, target, size, shown)
    return Fetched(target, description)


def _verify(client: Any, bucket: str, key: str, part: Path, etag: str, version: str | None,
            shown: str) -> None:
    if not version:  # not pinned: the object must still be the one we listed
        now = client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
        if now != etag:
            raise GateError("fetch", f"{shown} was overwritten while it downloaded (ETag {etag} "
                            f"-> {now})", "re-run the job (it will check the new release)",
                            code="store-changed")
    if "-" not in etag and len(etag) == 32 and common.md5_of(part) != etag:
        raise GateError("fetch", f"{shown}: the downloaded bytes do not match its ETag {etag}",
                        "re-run the job; if it persists, re-upload the object",
                        code="download-digest-mismatch")


def _errors(uri: str, client: Any) -> contextlib.AbstractContextManager[None]:
    """botocore's exceptions as exit-2 errors naming the object and the credential tried."""
    return common.translated(lambda exc: _error(f"{uri} (endpoint {client.meta.endpoint_url})",
                                                exc))


def _error(where: str, exc: Exception) -> GateError | None:
    import botocore.exceptions as bx

    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return GateError("fetch", f"no AWS credentials to read {where}: tried the AWS "
                         f"credential chain ({common.credential_names(CREDENTIALS)})",
                         "give the job credentials (aws-actions/configure-aws-credentials, "
                         "or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY secrets)",
                         code="store-credentials")
    if isinstance(exc, bx.ClientError):
        return _client_error(exc, where)
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError
                  | bx.ReadTimeoutError | bx.ConnectionClosedError):
        return GateError("fetch", f"cannot reach {where}: {type(exc).__name__}",
                         "check the endpoint (AWS_ENDPOINT_URL / checkpoint.endpoint) and "
                         "the network", code="store-unreachable")
    if isinstance(exc, bx.BotoCoreError | OSError) or type(exc).__module__.startswith(
            ("boto3", "s3transfer")):  # RetriesExceededError: short bodies, every try
        return GateError("fetch", f"reading {where} failed: {type(exc).__name__}: {exc}",
                         "re-run the job", code="store-failed")
    return None


def _client_error(exc: Any, where: str) -> GateError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in DENIED or status == 403:
        method = _credential_method()
        return GateError("fetch", f"access to {where} was denied ({code}) with the AWS "
                         f"credentials from {method!r} "
                         f"({common.credential_names(CREDENTIALS)})",
                         "grant the job's role s3:GetObject and s3:ListBucket on it, or fix "
                         "the credentials", code="store-credentials")
    if code in MISSING:
        return GateError("fetch", f"{where}: {code} (the bucket or object does not exist, or "
                         "was deleted while the gate read it)",
                         "fix the URI, or upload the release there (a missing release "
                         "cannot be checked, so this is not a pass)", code="store-not-found")
    return GateError("fetch", f"{where} answered {code or status} "
                     f"({error.get('Message', '')}) after retries",
                     "re-run the job later (the store throttled or failed)",
                     code="store-failed")


def upload(bundle: Path, uri: str, settings: dict[str, Any]) -> str:
    """Put the bundle at `s3://bucket/key` (multipart for a large one); returns what landed."""
    boto3 = common.client_module("boto3", "s3", uri)
    parts = urlsplit(uri)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if not bucket or not key or common.split_glob(key)[1]:
        raise GateError("publish", f"{uri!r} is not one object to upload to",
                        "write s3://BUCKET/KEY (no glob)", code="store-bad-uri")
    client = _client(boto3, settings)
    with _errors(uri, client):
        client.upload_file(str(bundle), bucket, key)
        head = client.head_object(Bucket=bucket, Key=key)
    return f"s3://{bucket}/{key} (ETag {head['ETag'].strip(chr(34))})"
