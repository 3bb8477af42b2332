"""`models:/` releases from a real `mlflow server` (SQLite, served artifacts), logged with
`mlflow.keras` / `mlflow.tensorflow` as a training script does (issue 18)."""

from __future__ import annotations

import tarfile

import pytest
from conftest import release_model
from fault_proxy import FaultProxy
from store_cases import assert_pass, assert_widened_fails, check, error_of
from stores_support import log_keras_release, mlflow_server_fixture, unique_name  # noqa: F401

from restore_gate.errors import GateError
from restore_gate.release.stores import fetch_store

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return release_model(tmp_path_factory.mktemp("mlflow-release"))


@pytest.fixture
def registry(mlflow_server, monkeypatch, tmp_path):
    """The server behind a proxy that counts artifact downloads, reached as a job reaches it."""
    monkeypatch.setenv("RESTORE_GATE_CACHE", str(tmp_path / "cache"))
    with FaultProxy(mlflow_server.url) as proxy:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", proxy.url)
        yield proxy


@pytest.fixture
def log(mlflow_server, registry, monkeypatch):
    """`log_keras_release`, then the job's MLFLOW_TRACKING_URI (mlflow.set_tracking_uri, which
    the training side calls, writes that variable in this process)."""
    def logged(name, model, **kwargs):
        release = log_keras_release(mlflow_server, name, model, **kwargs)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.url)
        return release

    return logged


def artifact_gets(proxy) -> int:
    return sum(1 for method, path, _ in proxy.hits
               if method == "GET" and "/mlflow-artifacts/artifacts/" in path)


def test_alias_passes_and_a_second_run_transfers_nothing(log, registry, project, model):
    name = unique_name("clf")
    log(name, model, alias="champion")
    report = check(project, f"models:/{name}@champion")
    assert_pass(report)
    assert report.checkpoint["written_by"]["keras"] and report.checkpoint["written_by"]["mlflow"]
    fetched = artifact_gets(registry)
    assert fetched >= 1, registry.hits
    assert_pass(check(project, f"models:/{name}@champion"))
    assert artifact_gets(registry) == fetched  # cached by model version: 0 bytes


def test_widened_layer_fails_naming_it(log, project, model):
    name = unique_name("clf")
    log(name, model, alias=None, flavor="tensorflow")
    assert_widened_fails(check(project, f"models:/{name}", units=16))


def test_no_tracking_uri_is_an_error_naming_it(registry, project, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    error = error_of(check(project, "models:/clf@champion"))
    assert "MLFLOW_TRACKING_URI" in error["message"]


def test_moved_alias_and_versions_resolve_to_their_release(log, model):
    import keras

    name = unique_name("clf")
    first = log(name, model, alias="champion")
    one = fetch_store(f"models:/{name}@champion", {})
    assert tarfile.is_tarfile(one.path) and f"version {first.version}" in one.description
    wider = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    second = log(name, wider, alias="champion")  # alias moves
    two = fetch_store(f"models:/{name}@champion", {})
    assert two.path != one.path and f"version {second.version}" in two.description
    assert fetch_store(f"models:/{name}/{first.version}", {}).path == one.path
    assert fetch_store(f"models:/{name}", {}).path == two.path  # the newest version


def test_unset_alias_missing_model_and_unreachable_server_are_errors(log, model, monkeypatch):
    from stores_support import free_port

    name = unique_name("clf")
    log(name, model, alias=None)
    with pytest.raises(GateError, match="this is not a pass") as caught:
        fetch_store(f"models:/{name}@champion", {})
    assert caught.value.code == "store-not-found"
    with pytest.raises(GateError) as caught:
        fetch_store(f"models:/{unique_name('absent')}/1", {})
    assert caught.value.code == "store-not-found"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(GateError, match="cannot read") as caught:
        fetch_store(f"models:/{name}/1", {})
    assert caught.value.code == "store-failed"


def test_snapshot_upload_attaches_the_bundle_and_moves_the_alias(log, registry, project, model,
                                                                 tmp_path):
    from conftest import save_release

    from restore_gate.cli import main

    name = unique_name("clf")
    log(name, model, alias="champion")
    second = log(name, model, alias=None)  # the pipeline's new version, not yet released
    saved = save_release(model, tmp_path / "saved", "keras")
    assert main(["snapshot", "--checkpoint", str(saved), "--out", str(tmp_path / "b.tar.gz"),
                 "--config", str(tmp_path / "no-config.yml"), "--quiet",
                 "--upload", f"models:/{name}@champion"]) == 0
    got = fetch_store(f"models:/{name}@champion", {})
    assert f"version {second.version}" in got.description  # the alias moved
    assert got.path.read_bytes() == (tmp_path / "b.tar.gz").read_bytes()  # exactly the bundle
    report = check(project, f"models:/{name}@champion")
    assert report.verdict == "pass" and report.checkpoint["manifest"]


def test_rejected_credentials_are_an_error_naming_the_one_tried(log, registry, model,
                                                                monkeypatch):
    """An MLflow server behind auth answers a wrong token 401 (here: the proxy answers it)."""
    name = unique_name("clf")
    log(name, model, alias="champion")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "wrong")
    registry.fail("GET", r"/api/2\.0/mlflow/", 401,
                  b'{"error_code": "UNAUTHENTICATED", "message": "Invalid token"}', times=10)
    with pytest.raises(GateError, match="access denied") as caught:
        fetch_store(f"models:/{name}@champion", {})
    assert "MLFLOW_TRACKING_TOKEN" in caught.value.message and name in caught.value.message
    assert caught.value.code == "store-credentials"
