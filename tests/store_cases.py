"""The end-to-end cases every release store gets (issue 18): unchanged branch -> pass, layer
widened -> fail naming it, credentials missing -> exit 2, second run -> 0 bytes transferred."""

from __future__ import annotations

from pathlib import Path

from conftest import Project, functional_model, release_model, save_release


def keras_release(base: Path) -> Path:
    """The release: conftest's functional model saved as a `.keras` file."""
    return save_release(release_model(base), base / "saved", "keras")


def check(project: Project, uri: str, extra: str = "", units: int = 8):
    """`check` of a branch whose hidden layer has `units`, against the store `uri` set as
    `checkpoint.uri` (plus `extra` settings lines, indented under `checkpoint:`)."""
    project.write("model.py", functional_model(units=units))
    config = project.config(f"checkpoint:\n  uri: {uri!r}\n{extra}")
    return _check(project, config)


def _check(project: Project, config: Path):
    from restore_gate.pipeline.check import CheckOptions, run_check

    return run_check(CheckOptions(config=config, checkpoint=None, quiet=True))


def assert_pass(report) -> None:
    assert report.errors == [], report.errors
    assert report.verdict == "pass", report.mismatches
    assert report.model["restored"] == report.model["variables"] == 4


def assert_widened_fails(report) -> None:
    assert report.verdict == "fail"
    assert {m.name for m in report.mismatches if m.kind == "shape"} >= {"hidden/kernel"}


def error_of(report) -> dict:
    assert report.verdict == "error" and report.errors, report.verdict
    return report.to_dict()["errors"][0]
