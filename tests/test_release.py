"""The release pipeline's invariants: one version, named alike by the package, the changelog,
the README's install lines and the release workflow's checks."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import tomllib
import yaml

import restore_gate

REPO = Path(__file__).resolve().parent.parent
VERSION = restore_gate.__version__


def test_version_is_set_in_one_place():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "restore_gate.__version__"}
    assert metadata.version("restore-gate") == VERSION  # what pip installed reads the same place


def test_changelog_heads_with_this_version():
    headings = re.findall(r"^## \[([^\]]+)\]", (REPO / "CHANGELOG.md").read_text(), re.M)
    assert headings and headings[0] == VERSION


def test_readme_and_docs_name_this_version_wherever_they_name_one():
    readme = "\n".join(p.read_text() for p in [REPO / "README.md", *(REPO / "docs").glob("*.md")])
    named = set(re.findall(r"restore-gate==([0-9][^'\s]*)", readme))
    named |= set(re.findall(r"OWNER/restore-gate@\S+ # v([0-9][0-9.]*[0-9])", readme))
    named |= set(re.findall(r"restore-gate:v([0-9][0-9.]*[0-9])", readme))
    assert named == {VERSION}
    # the install line that works before the first PyPI release is a git URL
    assert re.search(r"pip install 'restore-gate @ git\+https://github\.com/", readme)
    # and nowhere the PyPI install that does not work yet (only "then: ..." after the release)
    assert not re.search(r"^\s*pip install '?restore-gate(\[[a-z,]*\])?(==\S*)?'?\s*(&&|#|$)",
                         readme, re.M)


def test_release_workflow_refuses_a_tag_that_is_not_the_version():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "release.yml").read_text())
    assert workflow[True]["push"]["tags"] == ["v*"]  # `on:` parses as True in YAML 1.1
    steps = workflow["jobs"]["build"]["steps"]
    guard = next(s["run"] for s in steps if "CHANGELOG.md" in s.get("run", ""))
    assert '"$TAG" = "v$version"' in guard
    smoke = [s["run"] for s in steps if "restore-gate demo" in s.get("run", "")]
    assert smoke, "the wheel is smoke-tested before it is published"
    assert workflow["jobs"]["pypi"]["needs"] == "build"
    assert workflow["jobs"]["pypi"]["permissions"] == {"id-token": "write"}
    image = "\n".join(s.get("run", "") for s in workflow["jobs"]["image"]["steps"])
    assert image.index('--entrypoint restore-gate "$image:$TAG" demo') < image.index("docker push")


def _pin_tool():
    import importlib.util

    spec = importlib.util.spec_from_file_location("pin_action_image",
                                                  REPO / "tools" / "pin_action_image.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_release_runs_the_prebuilt_image_of_its_own_version():
    """The release workflow pins action.yml to the image it pushed, tagged with this package's
    version; a mismatched version, or an action.yml already pinned, is refused."""
    import pytest

    tool = _pin_tool()
    assert tool.version() == VERSION
    action = (REPO / "action.yml").read_text()
    assert yaml.safe_load(action)["runs"] == {"using": "docker", "image": "Dockerfile"}  # main
    image = f"ghcr.io/octo/restore-gate:v{VERSION}@sha256:{'0' * 64}"
    pinned = yaml.safe_load(tool.pin(action, image, VERSION))
    assert pinned["runs"] == {"using": "docker", "image": f"docker://{image}"}
    assert {k: v for k, v in pinned.items() if k != "runs"} == {
        k: v for k, v in yaml.safe_load(action).items() if k != "runs"}
    with pytest.raises(ValueError, match=r"the image is tagged v9\.9\.9"):
        tool.pin(action, "ghcr.io/octo/restore-gate:v9.9.9", VERSION)
    with pytest.raises(ValueError, match="already pinned"):
        tool.pin(tool.pin(action, image, VERSION), image, VERSION)


def test_release_workflow_pins_the_action_after_the_image_is_pushed():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "release.yml").read_text())
    jobs = workflow["jobs"]
    assert jobs["pin-action"]["needs"] == "image"
    assert jobs["image"]["outputs"]["image"] == "${{ steps.push.outputs.image }}"
    push = next(s for s in jobs["image"]["steps"] if s.get("id") == "push")
    assert push["run"].index("docker push") < push["run"].index('>> "$GITHUB_OUTPUT"')
    [step] = [s for s in jobs["pin-action"]["steps"] if "pin_action_image" in s.get("run", "")]
    assert step["env"]["IMAGE"] == "${{ needs.image.outputs.image }}"
    run = step["run"]
    assert run.index("pin_action_image.py") < run.index("git commit") < run.index("git push")
    assert 'git tag -f "$TAG"' in run
