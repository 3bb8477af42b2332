"""`s3://` releases from a real S3-compatible server (moto) at a custom endpoint (issue 18)."""

from __future__ import annotations

import re

import pytest
from fault_proxy import S3_SLOW_DOWN, FaultProxy
from store_cases import assert_pass, assert_widened_fails, check, error_of, keras_release
from stores_support import DUMMY_AWS, s3_server_fixture  # noqa: F401

from restore_gate.errors import GateError
from restore_gate.release.stores import fetch_store

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return keras_release(tmp_path_factory.mktemp("s3-release")).read_bytes()


@pytest.fixture
def s3(s3_server, monkeypatch, tmp_path):
    """The store behind a fault proxy (to count and break requests), reached through the
    environment a user's job sets: AWS_ENDPOINT_URL and the credential variables."""
    monkeypatch.setenv("RESTORE_GATE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    with FaultProxy(s3_server.endpoint) as proxy:
        for key, value in {**s3_server.env(), "AWS_ENDPOINT_URL": proxy.url}.items():
            monkeypatch.setenv(key, value)
        yield proxy


def object_gets(proxy, key: str) -> int:
    return sum(1 for method, path, _ in proxy.hits if method == "GET" and key in path)


def test_unchanged_branch_passes_and_a_second_run_transfers_nothing(s3_server, s3, project,
                                                                    release):
    bucket = s3_server.bucket()
    s3_server.put(bucket, "releases/model.keras", release)
    uri = f"s3://{bucket}/releases/model.keras"
    assert_pass(check(project, uri))
    assert object_gets(s3, "releases/model.keras") == 1
    assert_pass(check(project, uri))
    assert object_gets(s3, "releases/model.keras") == 1  # the cache, by ETag: 0 bytes


def test_widened_layer_fails_naming_it(s3_server, s3, project, release):
    bucket = s3_server.bucket()
    s3_server.put(bucket, "m/model.keras", release)
    assert_widened_fails(check(project, f"s3://{bucket}/m/model.keras", units=16))


def test_missing_credentials_are_an_error_naming_the_chain(s3_server, s3, project, release,
                                                            monkeypatch):
    bucket = s3_server.bucket()
    s3_server.put(bucket, "m/model.keras", release)
    for name in DUMMY_AWS:
        if name != "AWS_DEFAULT_REGION":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(project.root / "no-such-file"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(project.root / "no-such-config"))
    error = error_of(check(project, f"s3://{bucket}/m/model.keras"))
    assert "no AWS credentials" in error["message"] and bucket in error["message"]
    assert "AWS_ACCESS_KEY_ID" in error["message"]


def test_glob_takes_the_highest_version_and_an_overwrite_is_a_new_release(s3_server, s3,
                                                                          project, release):
    bucket = s3_server.bucket(versioned=True)
    for version in ("1.9", "1.10", "1.2"):
        s3_server.put(bucket, f"rel/model-{version}.keras", release + version.encode())
    uri = f"s3://{bucket}/rel/model-*.keras"
    first = fetch_store(uri, {})
    assert first.path.read_bytes() == release + b"1.10"
    s3_server.put(bucket, "rel/model-1.10.keras", release + b"NEW!")  # overwritten, same size
    second = fetch_store(uri, {})
    assert second.path.read_bytes() == release + b"NEW!" and second.path != first.path
    assert object_gets(s3, "rel/model-1.10.keras") == 2


def test_glob_without_versions_takes_the_newest_object(s3_server, s3):
    bucket = s3_server.bucket()
    s3_server.put(bucket, "rel/a/model.keras", b"old")
    s3_server.put(bucket, "rel/b/model.keras", b"x")
    import time

    time.sleep(1.1)  # LastModified has a resolution of one second
    s3_server.put(bucket, "rel/a/model.keras", b"newest")
    assert fetch_store(f"s3://{bucket}/rel/*/model.keras", {}).path.read_bytes() == b"newest"


def test_no_match_and_missing_key_are_errors_not_passes(s3_server, s3):
    bucket = s3_server.bucket()
    with pytest.raises(GateError, match="no object matches") as caught:
        fetch_store(f"s3://{bucket}/rel/*.keras", {})
    assert caught.value.code == "store-no-match"
    with pytest.raises(GateError, match="does not exist") as caught:
        fetch_store(f"s3://{bucket}/rel/model.keras", {})
    assert caught.value.code == "store-not-found"


def test_throttling_is_retried_then_an_error(s3_server, s3):
    bucket = s3_server.bucket()
    s3_server.put(bucket, "rel/model.keras", b"payload")
    path = f"/{bucket}/rel/model.keras"
    s3.fail("GET", re.escape(path), 503, S3_SLOW_DOWN, times=2)
    assert fetch_store(f"s3://{bucket}/rel/model.keras", {}).path.read_bytes() == b"payload"
    s3_server.put(bucket, "rel/other.keras", b"payload")
    s3.fail("HEAD", re.escape(f"/{bucket}/rel/other.keras"), 503, S3_SLOW_DOWN, times=10)
    with pytest.raises(GateError, match="after retries") as caught:
        fetch_store(f"s3://{bucket}/rel/other.keras", {})
    assert caught.value.code == "store-failed"


def test_truncated_download_never_lands_in_the_cache(s3_server, s3, tmp_path):
    bucket = s3_server.bucket()
    data = bytes(range(256)) * 4096  # 1 MiB
    s3_server.put(bucket, "rel/model.keras", data)
    s3.truncate("GET", re.escape(f"/{bucket}/rel/model.keras"), after=1000, times=10)
    with pytest.raises(GateError):
        fetch_store(f"s3://{bucket}/rel/model.keras", {})
    cached = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert cached == []


def test_unreachable_endpoint_is_an_error(s3, monkeypatch):
    from stores_support import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(GateError, match="cannot reach") as caught:
        fetch_store("s3://bucket/rel/model.keras", {})
    assert caught.value.code == "store-unreachable"


def test_snapshot_upload_puts_the_bundle_where_check_reads_it(s3_server, s3, project, release,
                                                              tmp_path):
    from restore_gate.cli import main

    saved = tmp_path / "model.keras"
    saved.write_bytes(release)
    bucket = s3_server.bucket()
    uri = f"s3://{bucket}/releases/model.tar.gz"
    missing = tmp_path / "no-config.yml"
    assert main(["snapshot", "--checkpoint", str(saved), "--out", str(tmp_path / "b.tar.gz"),
                 "--config", str(missing), "--upload", uri, "--quiet"]) == 0
    report = check(project, uri)
    assert report.errors == [] and report.verdict == "pass" and report.checkpoint["manifest"]
    assert main(["snapshot", "--checkpoint", str(saved), "--out", str(tmp_path / "c.tar.gz"),
                 "--config", str(missing), "--upload", f"s3://{bucket}/rel/*.tar.gz"]) == 2


NO_SUCH_KEY = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
               b"<Message>The specified key does not exist.</Message></Error>")


def test_object_deleted_between_listing_and_download_is_an_error(s3_server, s3, tmp_path):
    """The listing (and HEAD) see the object; its GET answers as S3 does once it is gone."""
    bucket = s3_server.bucket()
    s3_server.put(bucket, "rel/model-1.0.keras", b"payload")
    s3.fail("GET", re.escape(f"/{bucket}/rel/model-1.0.keras"), 404, NO_SUCH_KEY, times=10)
    with pytest.raises(GateError, match="deleted while the gate read it") as caught:
        fetch_store(f"s3://{bucket}/rel/model-*.keras", {})
    assert caught.value.code == "store-not-found"
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []
