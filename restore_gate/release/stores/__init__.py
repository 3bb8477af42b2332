"""Release stores beyond GitHub: MLflow Model Registry (`models:/`), S3 and S3-compatible
stores (`s3://`), GCS (`gs://`) and the Hugging Face Hub (`hf://`).

One adapter module per store, each with `fetch(uri, settings) -> Fetched`; its client library
is an optional extra imported only when that store is used (`restore-gate[s3]`, ...).
"""

from __future__ import annotations

import importlib
from typing import Any

from restore_gate.errors import GateError
from restore_gate.settings.sections import CheckpointSettings

# scheme -> (adapter module, the extra that installs its client)
SCHEMES = {"models": ("mlflow", "mlflow"), "s3": ("s3", "s3"), "gs": ("gcs", "gcs"),
           "hf": ("hf", "hf")}


def scheme_of(spec: str) -> str | None:
    head, sep, _ = spec.partition(":")
    return head if sep and head in SCHEMES else None


def is_store(spec: str) -> bool:
    return scheme_of(spec) is not None


def store_settings(section: CheckpointSettings | None) -> dict[str, Any]:
    """The config's settings a store reads (the `checkpoint:` section: `endpoint`)."""
    endpoint = section.endpoint if section is not None else None
    return {"endpoint": endpoint} if endpoint else {}


def fetch_store(spec: str, settings: dict[str, Any]) -> Any:
    """Resolve `spec` to the release it names and download it (cached by its identity)."""
    scheme = scheme_of(spec)
    if scheme is None:
        raise GateError("fetch", f"{spec!r} is no store URI",
                        f"use one of: {', '.join(f'{s}://' for s in SCHEMES)}")
    module, _ = SCHEMES[scheme]
    adapter = importlib.import_module(f"restore_gate.release.stores.{module}")
    return adapter.fetch(spec, settings)


def upload_store(bundle: Any, uri: str, settings: dict[str, Any]) -> str:
    """`snapshot --upload URI`: put the bundle where `check` will read it; returns a line
    saying what landed where."""
    scheme = scheme_of(uri)
    adapter = importlib.import_module(f"restore_gate.release.stores.{SCHEMES[scheme][0]}") \
        if scheme else None
    if adapter is None or not hasattr(adapter, "upload"):
        raise GateError("publish", f"cannot upload to {uri!r}",
                        "upload to s3://BUCKET/KEY, gs://BUCKET/KEY or models:/NAME[/VERSION|"
                        "@ALIAS] (a Hub repository: use huggingface-cli upload)",
                        code="store-bad-uri")
    return adapter.upload(bundle, uri, settings)
