"""`PublishOptions`: what the command line asks of `publish`, as a frozen value (cli.py builds
it from argparse; the action goes through the same command line)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PublishOptions:
    reports: tuple[Path, ...]  # JSON reports written by `check --report`
    markdown: Path | None = None  # write the merged comment here
    config: Path | None = None  # the config with the `publish:` settings (optional)
    pr: int | None = None  # default: from the event
    repo: str | None = None  # owner/name; default: GITHUB_REPOSITORY
    event: Path | None = None  # the event JSON the reports belong to
    comment: bool = True  # post the sticky comment (`--no-comment`: False)
    check_run: bool = False  # also create a check run
    comment_author: str | None = None  # login the sticky comment is written as
