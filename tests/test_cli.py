"""The command line: exit codes 0/1/2, `--report` (schema-valid JSON), `--markdown`, `-m`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, Project, functional_model, release_model, save_release

from restore_gate import __version__
from restore_gate.cli import main
from restore_gate.core.report import validate_report
from restore_gate.present.markdown import MARKER


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("cli")
    return save_release(release_model(base), base / "ckpt", "tf-opt")


def run(project: Project, release: Path, tmp_path: Path) -> tuple[int, dict, str]:
    report, markdown = tmp_path / "out" / "report.json", tmp_path / "out" / "comment.md"
    code = main([
        "check", "--config", str(project.root / ".restore-gate.yml"),
        "--checkpoint", str(release), "--report", str(report), "--markdown", str(markdown),
        "--quiet",
    ])
    data = json.loads(report.read_text(encoding="utf-8"))
    return code, validate_report(data, str(report)), markdown.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("code", "exit_code", "verdict"),
    [(functional_model(), 0, "pass"), (functional_model(units=16), 1, "fail"),
     ("import keras\n\ndef build():\n    raise ValueError('no model today')\n", 2, "error")],
    ids=["pass", "fail", "error"],
)
def test_exit_code_report_and_markdown_agree(release, project, tmp_path, capsys, code,
                                             exit_code, verdict):
    project.write("model.py", code)
    project.config()
    status, report, markdown = run(project, release, tmp_path)
    assert status == exit_code
    assert report["verdict"] == verdict
    assert markdown.startswith(MARKER)
    assert f"**{verdict}**" in markdown
    assert capsys.readouterr().out.strip() == markdown.strip()  # the comment is printed too
    if verdict == "fail":
        assert report["summary"]["shape"] == 3
        assert {m["name"] for m in report["mismatches"]} == {
            "hidden/kernel", "hidden/bias", "out/kernel"}
        assert all(m["source"] and m["source"].startswith("model.py:")
                   for m in report["mismatches"])
        assert "| ❌ `hidden` | shape ×2 · fix 1 | `kernel` 4×8 → 4×16 float32" in markdown
    if verdict == "error":
        assert report["errors"][0]["stage"] == "build"
        assert "no model today" in markdown


def test_config_error_exits_2_and_names_the_line(release, project, tmp_path, capsys):
    project.write("model.py", functional_model())
    project.config("chekpoint:\n  optimizer: required\n")
    status, report, markdown = run(project, release, tmp_path)
    assert status == 2
    assert report["errors"][0]["stage"] == "config"
    assert ".restore-gate.yml:4: unknown key 'chekpoint'" in report["errors"][0]["message"]
    assert "did you mean 'checkpoint'?" in markdown


def python_m(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "restore_gate", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_python_m_runs_the_cli(tmp_path):
    result = python_m("--version", cwd=REPO)
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_python_m_check_without_config_exits_2(tmp_path):
    result = python_m("check", "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    assert "config file .restore-gate.yml not found" in result.stdout + result.stderr


def test_usage_error_exits_2(tmp_path):
    result = python_m("check", "--device", "tpu", cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_gpu_without_a_gpu_exits_2_saying_so(release, project, tmp_path, capsys):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    project.write("model.py", functional_model())
    project.config()
    status = main(["check", "--config", str(project.root / ".restore-gate.yml"),
                   "--checkpoint", str(release), "--device", "gpu", "--quiet"])
    assert status == 2
    assert "sees no GPU" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["check", "inspect"])
def test_bad_artifact_exits_2_naming_the_file(release, project, tmp_path, capsys, command):
    bad = tmp_path / "model.weights.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # an HDF5 signature, then nothing
    project.write("model.py", functional_model())
    project.config()
    argv = (["check", "--config", str(project.root / ".restore-gate.yml"), "--checkpoint",
             str(bad), "--quiet"] if command == "check" else ["inspect", str(bad)])
    assert main(argv) == 2
    captured = capsys.readouterr()
    output = (captured.out + captured.err).replace("\\_", "_")  # Markdown-escaped in `check`
    assert str(bad) in output
