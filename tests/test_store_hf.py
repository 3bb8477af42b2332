"""`hf://` releases from a strict loopback Hugging Face Hub (tests/hub_stub.py) through
huggingface_hub with HF_ENDPOINT (issue 18)."""

from __future__ import annotations

import zipfile

import pytest
from hub_stub import TOKEN
from store_cases import assert_pass, assert_widened_fails, check, error_of, keras_release
from stores_support import hub_server_fixture, unique_name  # noqa: F401

from restore_gate.errors import GateError
from restore_gate.release.stores import fetch_store

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    """The files Keras's `model.save("hf://owner/repo")` uploads, from the release model."""
    saved = keras_release(tmp_path_factory.mktemp("hf-release"))
    with zipfile.ZipFile(saved) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return {**files, "README.md": b"# model card\n"}


@pytest.fixture
def hub(hub_server, monkeypatch, tmp_path):
    monkeypatch.setenv("RESTORE_GATE_CACHE", str(tmp_path / "cache"))
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for key, value in hub_server.env(tmp_path).items():
        monkeypatch.setenv(key, value)
    return hub_server


def downloads(hub, repo: str) -> int:
    return sum(1 for method, path, _ in hub.requests
               if method == "GET" and f"/{repo}/resolve/" in path)


def test_unchanged_branch_passes_and_a_second_run_transfers_nothing(hub, project, layout):
    repo = f"acme/{unique_name('clf')}"
    hub.commit(repo, layout)
    assert_pass(check(project, f"hf://{repo}"))
    fetched = downloads(hub, repo)
    assert fetched >= 2  # config.json and model.weights.h5 (the LFS one via the CDN)
    assert_pass(check(project, f"hf://{repo}"))
    assert downloads(hub, repo) == fetched  # cached by commit sha: 0 bytes


def test_widened_layer_fails_naming_it(hub, project, layout):
    repo = f"acme/{unique_name('clf')}"
    hub.commit(repo, layout)
    assert_widened_fails(check(project, f"hf://{repo}", units=16))


def test_private_repo_without_a_token_is_an_error_naming_it(hub, project, layout, monkeypatch):
    repo = f"acme/{unique_name('clf')}"
    hub.commit(repo, layout)
    hub.set_private(repo)
    error = error_of(check(project, f"hf://{repo}"))
    assert repo in error["message"] and "none of HF_TOKEN" in error["message"]
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    error = error_of(check(project, f"hf://{repo}"))
    assert "HTTP 401" in error["message"] and "HF_TOKEN" in error["message"]
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert_pass(check(project, f"hf://{repo}"))


def test_revision_pins_and_a_new_commit_is_a_new_release(hub, layout):
    repo = f"acme/{unique_name('clf')}"
    v1 = hub.commit(repo, {"model.keras": b"one"})
    hub.tag(repo, "v1", v1)
    first = fetch_store(f"hf://{repo}/model.keras", {})
    hub.commit(repo, {"model.keras": b"two"})  # main moves on
    assert fetch_store(f"hf://{repo}/model.keras", {}).path.read_bytes() == b"two"
    assert fetch_store(f"hf://{repo}/model.keras@v1", {}).path == first.path
    assert first.path.read_bytes() == b"one"
    assert fetch_store(f"hf://{repo}", {}).path.read_bytes() == b"two"  # its one checkpoint


def test_missing_revision_or_file_and_a_failing_hub_are_errors(hub, layout):
    repo = f"acme/{unique_name('clf')}"
    hub.commit(repo, {"model.keras": b"one"})
    with pytest.raises(GateError, match="no such revision or file"):
        fetch_store(f"hf://{repo}/model.keras@v9", {})
    with pytest.raises(GateError, match="no such revision or file"):
        fetch_store(f"hf://{repo}/other.keras", {})
    fetch_store(f"hf://{repo}/model.keras", {})  # cached now: a failing Hub still fails
    hub.fail(r"/api/models/", 503, times=20)
    with pytest.raises(GateError, match="after retries") as caught:
        fetch_store(f"hf://{repo}/model.keras", {})
    assert "not 'no release yet'" in caught.value.hint
