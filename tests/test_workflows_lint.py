"""action.yml, every workflow (the README's too) and the Dockerfile, through the linters GitHub
users run: check-jsonschema's built-in GitHub schemas, zizmor (offline) and hadolint.

All three come from PyPI (the `test` extra) and need no network. The README's and docs' workflows
are their fenced ```yaml blocks with a `jobs:` key, each written out as a workflow file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from action_support import ACTION, REPO
from doc_blocks import workflows

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def tool(name: str) -> str:
    """The linter installed beside this Python (the `test` extra), else on PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def lint(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False,
                          cwd=REPO)


def readme_workflows() -> list[str]:
    """Every workflow block of README.md and docs/*.md."""
    return [block.text for block in workflows()]


@pytest.fixture(scope="module")
def readme_files(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("readme") / ".github" / "workflows"
    folder.mkdir(parents=True)
    files = []
    for number, block in enumerate(readme_workflows(), 1):
        path = folder / f"readme-{number}.yml"
        path.write_text(block, encoding="utf-8")
        files.append(path)
    return files


def test_the_readme_shows_each_setup_as_a_complete_workflow(readme_files):
    workflows = [yaml.safe_load(path.read_text()) for path in readme_files]
    assert len(workflows) >= 4
    assert all("jobs" in w for w in workflows), "every yaml block is a whole workflow"
    text = "\n".join(path.read_text() for path in readme_files)
    assert "workflow_run:" in text and "mode: publish" in text  # the fork-safe split
    assert "--gpus all" in text and "-gpu" in text  # the GPU job container
    assert "docker://ghcr.io/" in text  # the prebuilt image
    split = next(w for w in workflows if "workflow_run" in w[True])  # yaml reads `on` as True
    steps = [s for job in split["jobs"].values() for s in job["steps"]]
    assert not any("checkout" in s.get("uses", "") for s in steps), "publish checks out nothing"


def test_workflows_and_readme_workflows_match_githubs_schema(readme_files):
    result = lint(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                  *map(str, WORKFLOWS), *map(str, readme_files))
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_yml_matches_githubs_schema():
    result = lint(tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions",
                  str(ACTION))
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing(readme_files):
    result = lint(tool("zizmor"), "--offline", "--no-progress", str(ACTION),
                  *map(str, WORKFLOWS), *map(str, readme_files))
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_would_catch_a_template_injection(tmp_path):
    """The zizmor run above is a real check: an injectable workflow fails it."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo \"${{ github.event.pull_request.title }}\"\n")
    result = lint(tool("zizmor"), "--offline", "--no-progress", str(bad))
    assert result.returncode != 0 and "template-injection" in result.stdout


def test_hadolint_passes_the_dockerfile():
    result = lint(tool("hadolint"), "--no-color", str(REPO / "Dockerfile"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_declares_the_specs_inputs_and_outputs():
    action = yaml.safe_load(ACTION.read_text())
    assert action["runs"] == {"using": "docker", "image": "Dockerfile"}
    assert set(action["branding"]) == {"icon", "color"}
    assert list(action["inputs"]) == ["config", "checkpoint", "mode", "device", "reports",
                                      "github-token", "comment", "fail-on", "requirements"]
    assert action["inputs"]["github-token"]["default"] == "${{ github.token }}"
    assert set(action["outputs"]) == {"verdict", "report", "comment-url", "mismatches"}
