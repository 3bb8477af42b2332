"""The README's "Use it in your repository" checklist, walked on a fresh copy of the example
project with only the blocks the README shows, in their order (issue 19, "Done means"): save
the release in training (the python block), the minimal config (the yaml block with
`version:`), `restore-gate snapshot`, `restore-gate check` (pass), the breaking edit (a diff)
and `check` (fail), then the harmless refactor (a diff, applied after undoing the first) and
`check` (pass). Each command's expected exit code is the one its `# exit N` comment states, so
the README cannot drift from the product.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from doc_blocks import REPO, checklist, commands

from restore_gate.commands.demo import copy_example


def run(argv: list[str], project: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def patch(diff: str, project: Path, *flags: str) -> None:
    done = subprocess.run(["patch", "-p1", *flags], input=diff, text=True, capture_output=True,
                          cwd=project, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def walk(project: Path) -> list[tuple[str, int]]:
    """Run the checklist's blocks; return each restore-gate command with its exit code."""
    outcomes, applied = [], None
    for block in checklist():
        if block.marker.startswith("parsed only"):
            continue  # needs GitHub: parsed by test_docs
        if block.lang == "python":
            (project / "train.py").write_text(block.text, encoding="utf-8")
            done = run([sys.executable, "train.py"], project)
            assert done.returncode == 0, done.stderr
        elif block.lang == "yaml" and "version" in (yaml.safe_load(block.text) or {}):
            (project / ".restore-gate.yml").write_text(block.text, encoding="utf-8")
        elif block.lang == "diff":
            if applied:  # "Undo it"
                patch(applied, project, "-R")
            patch(block.text, project)
            applied = block.text
        elif block.lang == "bash":
            for line in block.text.splitlines():
                expected = re.search(r"# exit (\d)", line)
                for argv in commands(line):
                    assert argv[0] == "restore-gate", f"{block.where}: no rule to run {argv}"
                    done = run([sys.executable, "-m", "restore_gate", *argv[1:]], project)
                    wanted = int(expected.group(1)) if expected else 0
                    assert done.returncode == wanted, (
                        f"{block.where}: `{line}` exited {done.returncode}\n{done.stderr}")
                    outcomes.append((" ".join(argv), done.returncode))
    return outcomes


def test_the_readme_checklist_walks_on_a_fresh_example(tmp_path):
    project = tmp_path / "project"
    copy_example(project)
    outcomes = walk(project)
    assert [code for _, code in outcomes] == [0, 0, 1, 0]  # snapshot, pass, break, refactor
    assert outcomes[0][0].startswith("restore-gate snapshot")
    assert (project / "release" / "model.tar.gz").is_file()
    # the failing check's comment names the layer and its line, as the README says
    comment = (project / "comment.md").read_text(encoding="utf-8")
    assert "`hidden`" in comment and "classifier.py:8" in comment
    assert "fail" in comment.splitlines()[1]
