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


def test_readme_names_this_version_wherever_it_names_one():
    readme = (REPO / "README.md").read_text()
    named = set(re.findall(r"restore-gate==([0-9][^'\s]*)", readme))
    named |= set(re.findall(r"OWNER/restore-gate@\S+ # v([0-9][0-9.]*[0-9])", readme))
    named |= set(re.findall(r"restore-gate:v([0-9][0-9.]*[0-9])", readme))
    assert named == {VERSION}
    # the install line that works before the first PyPI release is a git URL
    assert re.search(r"pip install 'restore-gate @ git\+https://github\.com/", readme)


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
