"""`gs://` releases from a real GCS emulator (gcp-storage-emulator) on loopback (issue 18)."""

from __future__ import annotations

import pytest
from fault_proxy import GCS_RATE_LIMIT, FaultProxy
from store_cases import assert_pass, assert_widened_fails, check, error_of, keras_release
from stores_support import gcs_server_fixture  # noqa: F401

from restore_gate.errors import GateError
from restore_gate.release.stores import fetch_store

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return keras_release(tmp_path_factory.mktemp("gcs-release")).read_bytes()


@pytest.fixture
def gcs(gcs_server, monkeypatch, tmp_path):
    """The emulator behind a fault proxy, reached as a job reaches it: STORAGE_EMULATOR_HOST."""
    monkeypatch.setenv("RESTORE_GATE_CACHE", str(tmp_path / "cache"))
    with FaultProxy(gcs_server.host) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "test-project")
        yield proxy


def media_gets(proxy, key: str) -> int:
    return sum(1 for method, path, _ in proxy.hits
               if method == "GET" and "alt=media" in path and key.replace("/", "%2F") in path)


def test_unchanged_branch_passes_and_a_second_run_transfers_nothing(gcs_server, gcs, project,
                                                                    release):
    bucket = gcs_server.bucket()
    gcs_server.put(bucket, "releases/model.keras", release)
    uri = f"gs://{bucket}/releases/model.keras"
    assert_pass(check(project, uri))
    assert media_gets(gcs, "releases/model.keras") == 1, gcs.hits
    assert_pass(check(project, uri))
    assert media_gets(gcs, "releases/model.keras") == 1  # cached by generation: 0 bytes


def test_widened_layer_fails_naming_it(gcs_server, gcs, project, release):
    bucket = gcs_server.bucket()
    gcs_server.put(bucket, "m/model.keras", release)
    assert_widened_fails(check(project, f"gs://{bucket}/m/model.keras", units=16))


def test_missing_credentials_are_an_error_naming_them(gcs_server, gcs, project, release,
                                                      monkeypatch):
    """A real endpoint (not the emulator's anonymous mode) and no usable ADC."""
    bucket = gcs_server.bucket()
    gcs_server.put(bucket, "m/model.keras", release)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    monkeypatch.setenv("API_ENDPOINT_OVERRIDE", gcs.url)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(project.root / "no-such-key.json"))
    error = error_of(check(project, f"gs://{bucket}/m/model.keras"))
    assert "Application Default Credentials" in error["message"]
    assert "GOOGLE_APPLICATION_CREDENTIALS" in error["message"] and bucket in error["message"]


def test_glob_takes_the_highest_version_and_an_overwrite_is_a_new_release(gcs_server, gcs,
                                                                          release):
    bucket = gcs_server.bucket()
    for version in ("1.9", "1.10", "1.2"):
        gcs_server.put(bucket, f"rel/model-{version}.keras", release + version.encode())
    uri = f"gs://{bucket}/rel/model-*.keras"
    first = fetch_store(uri, {})
    assert first.path.read_bytes() == release + b"1.10"
    gcs_server.put(bucket, "rel/model-1.10.keras", release + b"NEW!")  # same size, new object
    second = fetch_store(uri, {})
    assert second.path.read_bytes() == release + b"NEW!" and second.path != first.path


def test_no_match_and_missing_object_are_errors_not_passes(gcs_server, gcs):
    bucket = gcs_server.bucket()
    with pytest.raises(GateError, match="no object matches") as caught:
        fetch_store(f"gs://{bucket}/rel/*.keras", {})
    assert caught.value.code == "store-no-match"
    with pytest.raises(GateError, match="does not exist") as caught:
        fetch_store(f"gs://{bucket}/rel/model.keras", {})
    assert caught.value.code == "store-not-found"


def test_rate_limiting_is_retried(gcs_server, gcs):
    bucket = gcs_server.bucket()
    gcs_server.put(bucket, "rel/model.keras", b"payload")
    gcs.fail("GET", r"/o/rel%2Fmodel\.keras", 429, GCS_RATE_LIMIT, times=2)
    assert fetch_store(f"gs://{bucket}/rel/model.keras", {}).path.read_bytes() == b"payload"
    assert sum(1 for _, _, status in gcs.hits if status == 429) == 2


def test_object_deleted_between_listing_and_download_is_an_error(gcs_server, gcs, tmp_path):
    """The listing sees the object; its media GET answers as GCS does once it is gone."""
    bucket = gcs_server.bucket()
    gcs_server.put(bucket, "rel/model-1.0.keras", b"payload")
    gcs.fail("GET", r"/o/rel%2Fmodel-1\.0\.keras\?.*alt=media", 404,
             b'{"error": {"code": 404, "message": "No such object"}}', times=10)
    with pytest.raises(GateError, match="deleted while the gate read it") as caught:
        fetch_store(f"gs://{bucket}/rel/model-*.keras", {})
    assert caught.value.code == "store-not-found"
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []
