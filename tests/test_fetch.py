"""Release and URL sources against the loopback GitHub: redirect without token, digest, cache."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from github_stub import github_fixture  # noqa: F401  (the `github` fixture)

from restore_gate.errors import GateError
from restore_gate.github import GitHub
from restore_gate.release.download import fetch_url
from restore_gate.release.source import resolve
from restore_gate.settings.config import Config


def tar_gz(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return buffer.getvalue()


def bundle() -> bytes:
    manifest = {"checkpoint": "checkpoint/ckpt", "format": "tf-checkpoint"}
    return tar_gz({"restore-gate.json": json.dumps(manifest).encode(),
                   "checkpoint/ckpt.index": b"index", "checkpoint/ckpt.data-00000-of-00001": b"d"})


def release_config(tmp_path: Path, **release: str) -> Config:
    return Config.from_data(tmp_path / ".restore-gate.yml", tmp_path, {
        "model": {"builder": "models:build"},
        "checkpoint": {"release": {"asset": "model-*.tar.gz", **release}}})


def resolve_release(tmp_path: Path, **release: str):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return resolve("release", release_config(tmp_path, **release), work, GitHub.from_env)


def test_release_asset_is_downloaded_via_redirect_without_the_token(github, tmp_path):
    github.add_release("v1.0", {"model-1.0.tar.gz": bundle(), "notes.txt": b"x"})
    source = resolve_release(tmp_path)
    assert source.path.name == "ckpt" and source.manifest["format"] == "tf-checkpoint"
    assert (source.path.parent / "ckpt.index").read_bytes() == b"index"
    assert source.description == "octo/models v1.0: model-1.0.tar.gz"
    download = github.calls("GET", "/releases/assets/")[0]
    assert download.headers["Accept"] == "application/octet-stream"
    assert download.headers["Authorization"] == f"Bearer {github.token}"
    assert len(github.store_requests) == 1
    assert "Authorization" not in github.store_requests[0].headers


def test_rerun_uses_the_cache_and_downloads_nothing(github, tmp_path):
    github.add_release("v1.0", {"model-1.0.tar.gz": bundle()})
    first = resolve_release(tmp_path)
    second = resolve_release(tmp_path)
    assert first.origin == second.origin and first.origin.is_file()
    assert "sha256" in first.origin.parts
    assert len(github.store_requests) == 1
    assert len(github.calls("GET", "/releases/assets/")) == 1


def test_corrupted_cache_entry_is_downloaded_again(github, tmp_path):
    github.add_release("v1.0", {"model-1.0.tar.gz": bundle()})
    cached = resolve_release(tmp_path).origin
    cached.write_bytes(b"x" * cached.stat().st_size)  # same size, other bytes
    assert resolve_release(tmp_path).manifest is not None
    assert len(github.store_requests) == 2


def test_wrong_digest_is_an_error_and_nothing_is_cached(github, tmp_path):
    github.add_release("v1.0", {"model-1.0.tar.gz": bundle()},
                       digests={"model-1.0.tar.gz": "sha256:" + "0" * 64})
    with pytest.raises(GateError) as caught:
        resolve_release(tmp_path)
    assert caught.value.stage == "fetch" and "does not match the published digest" in str(
        caught.value)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_asset_without_digest_is_fetched_with_a_notice(github, tmp_path):
    github.add_release("v1.0", {"model-1.0.tar.gz": bundle()}, digests={"model-1.0.tar.gz": None})
    source = resolve_release(tmp_path)
    assert source.manifest is not None
    assert any("not verified" in n for n in source.notices)
    resolve_release(tmp_path)
    assert len(github.store_requests) == 1  # cached by asset id


def test_no_release_yet_passes_with_a_notice(github, tmp_path):
    source = resolve_release(tmp_path)
    assert source.path is None
    assert "no published release" in source.notices[0] and "passes" in source.notices[0]


def test_release_without_a_matching_asset_is_an_error_naming_the_assets(github, tmp_path):
    github.add_release("v1.0", {"weights.zip": b"z"})
    with pytest.raises(GateError) as caught:
        resolve_release(tmp_path)  # a mistyped glob must not turn every check into a pass
    assert "weights.zip" in str(caught.value) and "checkpoint.release.asset" in caught.value.hint


def test_tag_pattern_takes_the_newest_matching_published_release(github, tmp_path):
    github.add_release("model-v1", {"model-1.tar.gz": bundle()})
    github.add_release("model-v2", {"model-2.tar.gz": bundle()})
    github.add_release("model-v3", {"model-3.tar.gz": bundle()}, prerelease=True)
    github.add_release("app-v9", {"model-9.tar.gz": bundle()})
    source = resolve_release(tmp_path, tag="model-v*")
    assert source.description.endswith("model-v2: model-2.tar.gz")


def test_unreadable_repository_is_an_error_not_a_pass(github, tmp_path):
    with pytest.raises(GateError) as caught:
        resolve_release(tmp_path, repository="octo/other")
    assert "contents: read" in str(caught.value)


def test_bad_token_is_an_error_that_names_the_permission(github, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_nope_nope_nope")
    github.add_release("v1.0", {"model-1.0.tar.gz": bundle()})
    with pytest.raises(GateError) as caught:
        resolve_release(tmp_path)
    assert "401" in str(caught.value) and "contents: read" in str(caught.value)
    assert "ghp_nope_nope_nope" not in str(caught.value)


def test_two_matching_assets_are_an_error(github, tmp_path):
    github.add_release("v1.0", {"model-a.tar.gz": bundle(), "model-b.tar.gz": bundle()})
    with pytest.raises(GateError, match="2 assets matching"):
        resolve_release(tmp_path)


@pytest.mark.parametrize("hostile", [
    {"members": {"../x": b"evil"}},
    {"members": {"/abs/x": b"evil"}},
    {"members": {}, "links": {"checkpoint/out": "../../../etc/passwd"}},
])
def test_hostile_archives_are_refused(github, tmp_path, hostile):
    github.add_release("v1.0", {"model-1.0.tar.gz": tar_gz(hostile["members"],
                                                           hostile.get("links"))})
    with pytest.raises(GateError) as caught:
        resolve_release(tmp_path)
    assert caught.value.stage == "fetch" and "refusing to unpack" in str(caught.value)
    assert not (tmp_path / "x").exists() and not Path("/abs/x").exists()


def test_url_source_keeps_keras_files_as_files_and_checks_the_pin(github, tmp_path):
    import http.server
    import threading

    data = b"not-really-a-keras-file"
    served = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            served.append(dict(self.headers))
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/models/model.keras"
        digest = hashlib.sha256(data).hexdigest()
        work = tmp_path / "work"
        work.mkdir()
        source = resolve(f"{url}#sha256={digest}", None, work)
        assert source.path.name == "model.keras" and source.path.read_bytes() == data
        assert source.manifest is None and not source.notices
        resolve(f"{url}#sha256={digest}", None, work)
        assert len(served) == 1  # pinned: the second run is a cache hit
        assert all("Authorization" not in h for h in served)  # never the GitHub token
        with pytest.raises(GateError, match="does not match"):
            fetch_url(f"{url}#sha256={'1' * 64}")
        unpinned = fetch_url(url)
        assert unpinned.path.read_bytes() == data and "not verified" in unpinned.notices[0]
    finally:
        server.shutdown()
        server.server_close()


def test_check_with_no_release_yet_is_a_pass_with_the_notice(github, project):
    project.write("model.py", "def build():\n    raise AssertionError('not reached')\n")
    config = project.config('checkpoint:\n  release: {asset: "model-*.tar.gz"}\n')
    report = project.check("release", config)
    assert report.verdict == "pass" and not report.errors
    assert "no published release" in report.notices[0]
    from restore_gate.present.comment import render

    assert "no published release" in render(report.to_dict())


def test_store_refuses_a_token_so_the_redirect_test_means_something(github, tmp_path):
    import requests

    github.add_release("v1.0", {"model-1.0.tar.gz": bundle()})
    resolve_release(tmp_path)
    leaked = requests.get(github.store_url + github.store_requests[0].path,
                          params=github.store_requests[0].query,
                          headers={"Authorization": f"Bearer {github.token}"}, timeout=10)
    assert leaked.status_code == 400 and b"Only one auth mechanism" in leaked.content


def test_unwritable_cache_is_a_fetch_error(github, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("RESTORE_GATE_CACHE", str(blocker))
    github.add_release("v1.0", {"model-1.0.tar.gz": bundle()})
    with pytest.raises(GateError, match="cannot write") as caught:
        resolve_release(tmp_path)
    assert "RESTORE_GATE_CACHE" in caught.value.hint
