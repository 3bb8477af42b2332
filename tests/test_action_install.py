"""The Dockerfile's own steps, replayed in a venv (no Docker engine here).

The venv sees this environment's site-packages, as the image sees the TensorFlow base image's: the
Dockerfile's COPY instructions fill a folder standing for `/action`, its RUN instructions run
verbatim (with that folder for `/action` and the venv's `python` first on PATH), then its
ENTRYPOINT runs the action's check with the environment GitHub gives a container action.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest
from action_support import REPO, action_env, release_bundle, run_action, write_project

DOCKERFILE = REPO / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        current += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            lines.append(current)
            current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def env_pairs(arguments: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in shlex.split(arguments))


TF_PIN = re.compile(r"pip install --no-cache-dir tensorflow-cpu==(\d+\.\d+\.\d+)$")


def test_dockerfile_shape():
    steps = instructions(DOCKERFILE.read_text())
    assert steps[0][0] == "FROM" and re.fullmatch(r"python:3\.\d+-slim-\w+", steps[0][1])
    runs = [args for kind, args in steps if kind == "RUN"]
    assert any('pip install --no-cache-dir "/action[mlflow,s3,gcs,hf]"' in run for run in runs)
    # exactly one TensorFlow, pinned, and the package itself adds none (no `[tensorflow]` extra)
    assert len([run for run in runs if "tensorflow" in run]) == 1
    assert sum(bool(TF_PIN.search(run)) for run in runs) == 1
    extras = {e for run in runs for group in re.findall(r"\[([^]]*)\]", run)
              for e in group.split(",")}
    assert extras == {"mlflow", "s3", "gcs", "hf"}  # the release stores' clients only
    assert "RUN" in [kind for kind, _ in steps] and any(run == "restore-gate demo" for run in runs)
    assert steps[-1] == ("ENTRYPOINT", '["python", "/action/entrypoint.py"]')  # no shell


def test_dockerfile_steps_install_a_working_action_in_a_venv(tmp_path):
    venv, action = tmp_path / "venv", tmp_path / "action"
    make_image_like_venv(venv)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    entrypoint: list[str] = []
    for kind, args in instructions(DOCKERFILE.read_text()):
        if kind == "ENV":
            env.update(env_pairs(args))
        elif kind == "COPY":
            *sources, target = shlex.split(args)
            copy(sources, Path(str(action) + target.removeprefix("/action")))
        elif kind == "RUN":
            if "apt-get" in args and not shutil.which("git"):
                pytest.skip("the image's git step would need apt-get here")
            if pin := TF_PIN.search(args):  # the TensorFlow layer: this environment stands for it
                _require_tensorflow(pin.group(1))
                continue
            command = args.replace("/action", str(action))
            subprocess.run(["bash", "-euo", "pipefail", "-c", command], env=env, check=True,
                           timeout=180, cwd=tmp_path)
        elif kind == "ENTRYPOINT":
            entrypoint = [arg.replace("/action", str(action)) for arg in json.loads(args)]

    python = venv / "bin" / "python"
    where = subprocess.run([str(python), "-c", "import restore_gate; print(restore_gate.__file__)"],
                           env=env, capture_output=True, text=True, check=True, cwd=tmp_path
                           ).stdout
    assert Path(where.strip()).is_relative_to(venv), where  # the venv's copy, not the checkout
    version = subprocess.run([str(venv / "bin" / "restore-gate"), "--version"], env=env,
                             capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert version.startswith("restore-gate ")

    assert entrypoint[0] == "python"
    workspace = write_project(tmp_path / "workspace", 8, "checkpoint:\n  path: model.tar.gz\n")
    shutil.copyfile(release_bundle(), workspace / "model.tar.gz")
    run_env = action_env(workspace, tmp_path / "temp", {"mode": "check"}, "ghs_x" * 8,
                         extra={k: v for k, v in env.items() if k.startswith(("PIP_", "PATH"))})
    result = run_action(workspace, run_env, python=str(python), entrypoint=Path(entrypoint[1]))
    assert result.returncode == 0, result.log
    assert result.outputs["verdict"] == "pass"


def _require_tensorflow(version: str) -> None:
    installed = {name: _installed(name) for name in ("tensorflow-cpu", "tensorflow")}
    if version not in installed.values():
        pytest.skip(f"the image pins TensorFlow {version}; this environment has {installed}")


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def make_image_like_venv(venv: Path) -> None:
    """A venv that sees this test run's packages (TensorFlow among them) the way the image sees
    the TensorFlow base image's: through a `.pth` naming this environment's site-packages.

    `venv --system-site-packages` would not do: run from inside a venv, it bases the new venv on
    the *base* interpreter, which lacks the packages installed in the outer venv.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    outer = dict.fromkeys(sysconfig.get_path(key) for key in ("purelib", "platlib"))
    inner = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import sysconfig; print(sysconfig.get_path('purelib'))"],
                           capture_output=True, text=True, check=True).stdout.strip()
    Path(inner, "outer-environment.pth").write_text("\n".join(outer) + "\n", encoding="utf-8")


def copy(sources: list[str], target: Path) -> None:
    """COPY semantics for files into a folder (`dst/`) and a folder onto a path."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for source in sources:
        path = REPO / source
        if path.is_dir():
            shutil.copytree(path, target, ignore=ignore)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / path.name)
