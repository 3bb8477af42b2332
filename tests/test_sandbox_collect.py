"""`Sandbox.collect`: the step where root copies the branch's report back (no root needed).

Branch code runs as the unprivileged user and writes into its own folder; if the copy
followed a link it planted there, it could have root copy a root-only file (a key, another
job's token) into the workspace. The sandbox here drops no privilege (uid None), so these run
as any user; the link is what the test plants, as branch code would.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_action_entrypoint import load_entrypoint

from restore_gate.action import sandbox as unprivileged
from restore_gate.action.sandbox import Sandbox

SECRET = "root-only: -----BEGIN OPENSSH PRIVATE KEY-----"


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    home = tmp_path / "action" / "home"
    home.mkdir(parents=True)
    return Sandbox(tmp_path / "action", home, None, None)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "id_rsa"
    path.parent.mkdir()
    path.write_text(SECRET, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_a_regular_report_is_copied(sandbox, tmp_path):
    (sandbox.home / "report.json").write_text('{"verdict": "pass"}', encoding="utf-8")
    target = tmp_path / "workspace-report.json"
    assert sandbox.collect("report.json", target)
    assert target.read_text(encoding="utf-8") == '{"verdict": "pass"}'


@pytest.mark.parametrize("link", ["absolute", "relative"])
def test_a_planted_symlink_to_a_file_outside_is_never_followed(sandbox, secret, tmp_path, link):
    pointer = secret if link == "absolute" else os.path.relpath(secret, sandbox.home)
    (sandbox.home / "report.json").symlink_to(pointer)
    target = tmp_path / "workspace-report.json"
    assert not sandbox.collect("report.json", target)
    assert not target.exists()


def test_a_fifo_or_a_folder_is_not_a_report(sandbox, tmp_path):
    os.mkfifo(sandbox.home / "report.json")  # opening it blocking would hang the action
    assert not sandbox.collect("report.json", tmp_path / "a")
    (sandbox.home / "comment.md").mkdir()
    assert not sandbox.collect("comment.md", tmp_path / "b")
    assert not sandbox.collect("never-written.json", tmp_path / "c")
    assert not any((tmp_path / name).exists() for name in "abc")


def test_a_report_over_the_size_bound_is_refused(sandbox, tmp_path, monkeypatch):
    monkeypatch.setattr(unprivileged, "MAX_COPY", 8)
    (sandbox.home / "report.json").write_bytes(b"123456789")
    assert not sandbox.collect("report.json", tmp_path / "big")
    (sandbox.home / "report.json").write_bytes(b"12345678")
    assert sandbox.collect("report.json", tmp_path / "fits")
    assert (tmp_path / "fits").read_bytes() == b"12345678"  # every byte up to the bound


def test_a_link_at_the_target_is_replaced_not_written_through(sandbox, secret, tmp_path):
    (sandbox.home / "report.json").write_text("{}", encoding="utf-8")
    target = tmp_path / "workspace-report.json"
    target.symlink_to(secret)  # the branch committed a link under the report's name
    assert sandbox.collect("report.json", target)
    assert not target.is_symlink() and target.read_text(encoding="utf-8") == "{}"
    assert secret.read_text(encoding="utf-8") == SECRET


def test_a_dangling_link_at_the_target_is_removed_not_followed(sandbox, tmp_path):
    (sandbox.home / "report.json").write_text("{}", encoding="utf-8")
    planted = tmp_path / "outside" / "created-by-root"
    planted.parent.mkdir()
    target = tmp_path / "workspace-report.json"
    target.symlink_to(planted)  # points at nothing yet: writing through it would create it
    assert sandbox.collect("report.json", target)
    assert not planted.exists() and target.read_text(encoding="utf-8") == "{}"


class LinkingSandbox(Sandbox):
    """The child's run stands in for branch code that plants its report as a link."""

    def __init__(self, base: Sandbox, secret: Path) -> None:
        super().__init__(base.root, base.home, None, None)
        self.secret = secret

    def python(self, args, extra=None) -> int:
        for name in ("restore-gate-report.json", "restore-gate-comment.md"):
            (self.home / name).symlink_to(self.secret)
        return 0  # and claims a pass


def test_a_linked_report_makes_the_action_check_an_error(sandbox, secret, tmp_path,
                                                         monkeypatch, capsys):
    entrypoint = load_entrypoint()
    monkeypatch.chdir(tmp_path)
    inputs = entrypoint.read_inputs({})
    actions = entrypoint.Actions(enabled=True)  # annotations on stdout, as in a workflow
    code, report = entrypoint.check_step(inputs, {}, LinkingSandbox(sandbox, secret), actions,
                                         lambda argv: 0)  # the release download: done
    assert (code, report) == (2, None)
    assert "ended without writing its report" in capsys.readouterr().out
    for name in ("restore-gate-report.json", "restore-gate-comment.md"):
        assert not (tmp_path / name).exists()
