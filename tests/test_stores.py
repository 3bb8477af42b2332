"""The release-store registry (issue 18): URIs in the config, a missing client extra, the
glob's newest-match rule, and the action's token-holding prefetch of a store release."""

from __future__ import annotations

import datetime as dt
import json
import sys

import pytest
from stores_support import s3_server_fixture  # noqa: F401

from restore_gate.errors import GateError
from restore_gate.release.stores import fetch_store
from restore_gate.release.stores.common import newest
from restore_gate.settings.config import Config, parse_config

BASE = "version: 1\nmodel:\n  builder: model:build\n"


@pytest.mark.parametrize("uri", ["models:/clf@champion", "models:/clf/3", "s3://b/k.keras",
                                 "gs://b/rel/*.keras", "hf://acme/clf@v1"])
def test_store_uris_are_accepted_as_checkpoint_uri(tmp_path, uri):
    config = parse_config(f"{BASE}checkpoint:\n  uri: {uri!r}\n", tmp_path / "c.yml", tmp_path)
    assert config.checkpoint.uri == uri


@pytest.mark.parametrize("uri", ["s3://bucket-only", "ftp://host/x.keras", "hf://acme"])
def test_malformed_uris_are_refused_by_the_schema(tmp_path, uri):
    with pytest.raises(GateError):
        parse_config(f"{BASE}checkpoint:\n  uri: {uri!r}\n", tmp_path / "c.yml", tmp_path)


@pytest.mark.parametrize(("uri", "module", "extra"), [
    ("s3://b/m.keras", "boto3", "s3"), ("gs://b/m.keras", "google.cloud.storage", "gcs"),
    ("hf://acme/clf", "huggingface_hub", "hf"), ("models:/clf@champion", "mlflow", "mlflow")])
def test_a_missing_client_is_an_error_naming_the_extra(monkeypatch, uri, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed: import fails
    with pytest.raises(GateError, match=rf"restore-gate\[{extra}\]") as caught:
        fetch_store(uri, {})
    assert caught.value.code == "store-client-missing"


def test_newest_match_by_version_else_modification_time_and_a_tie_is_an_error():
    t0 = dt.datetime(2026, 1, 1)
    later = t0 + dt.timedelta(days=1)
    versions = [("rel/model-1.9.keras", later), ("rel/model-1.10.keras", t0)]
    assert newest(versions, lambda m: m[0], lambda m: m[1], "u")[0] == "rel/model-1.10.keras"
    plain = [("rel/a/model.weights.h5", t0), ("rel/b/model.weights.h5", later)]
    assert newest(plain, lambda m: m[0], lambda m: m[1], "u")[0] == "rel/b/model.weights.h5"
    tie = [("rel/a/model.keras", t0), ("rel/b/model.keras", t0)]
    with pytest.raises(GateError, match="same modification time"):
        newest(tie, lambda m: m[0], lambda m: m[1], "u")


def test_the_actions_prefetch_downloads_a_store_release_for_the_sandboxed_check(
        s3_server, monkeypatch, tmp_path):
    """`check --fetch-only` (root, with the credentials) records the download; the `check`
    that runs branch code reads that record and needs no credentials at all."""
    from restore_gate.release.source import PREFETCHED_ENV, prefetch, resolve

    bucket = s3_server.bucket()
    s3_server.put(bucket, "rel/model.keras", b"release-bytes")
    uri = f"s3://{bucket}/rel/model.keras"
    monkeypatch.setenv("RESTORE_GATE_CACHE", str(tmp_path / "cache"))
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    config = Config.from_data(tmp_path / "c.yml", tmp_path, {"model": {"builder": "m:build"},
                                                            "checkpoint": {"uri": uri}})
    record = tmp_path / "run" / "prefetched.json"
    record.parent.mkdir()
    prefetch(None, config, record)
    assert json.loads(record.read_text())["spec"] == uri
    for key in s3_server.env():
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv(PREFETCHED_ENV, str(record))
    work = tmp_path / "work"
    work.mkdir()
    source = resolve(None, config, work)
    assert source.path.read_bytes() == b"release-bytes" and uri in source.description
