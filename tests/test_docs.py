"""Every fenced block of README.md and docs/*.md is tested by its kind (issue 19, item 5).

- yaml: a whole workflow (`jobs:`) matches GitHub's workflow schema (test_workflows_lint also
  runs zizmor on them); a config (`version:`) loads through `parse_config` in a copy of the
  example project; a fragment of config keys is laid over the example's config and loaded; a
  threshold file (only `metrics`/`outputs`/`devices`) is loaded as the file `thresholds:`
  names; `<!-- reference: validated only -->` is schema-validated only; `<!-- error example -->`
  must be refused, with the message of the ```text block that follows it.
- bash/sh: the quick start's commands run (pip as a dry run, `restore-gate` as
  `python -m restore_gate`, the test command is .ci/run's); the checklist's run in
  tests/test_checklist.py; every other block (and `<!-- parsed only: why -->`) passes `bash -n`,
  each `restore-gate …` command parses with the CLI's own parser and each `python FILE` exists.
- python compiles (the checklist's runs in test_checklist); diff applies to the example;
  markdown is a stored comment of tests/data/render; text follows an error example.
A block of any other kind fails: a new kind needs a rule here first.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import tomllib
import yaml
from doc_blocks import CHECKLIST, PAGES, QUICK_START, REPO, Block, all_blocks, commands
from markdown_it import MarkdownIt
from packaging.requirements import Requirement
from test_workflows_lint import lint, tool

from restore_gate.cli import parse
from restore_gate.commands.demo import copy_example
from restore_gate.errors import GateError
from restore_gate.settings.config import parse_config, parse_yaml, validate

BLOCKS = all_blocks()
IDS = [block.where for block in BLOCKS]
RENDERED = {p.read_text(encoding="utf-8") for p in (REPO / "tests/data/render").glob("*.md")}
CONFIG_KEYS = {"version", "model", "checkpoint", "evaluation", "thresholds", "baseline", "allow",
               "limits", "publish"}
THRESHOLD_KEYS = {"metrics", "outputs", "devices"}
CI_TEST_COMMAND = "pip install -e '.[test,tensorflow]' && python -m pytest -q -p no:cacheprovider"


def example(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    copy_example(project)
    return project


def load(text: str, project: Path):
    return parse_config(text, project / ".restore-gate.yml", project)


def over_example(fragment: dict, project: Path) -> str:
    merged = copy.deepcopy(yaml.safe_load((project / ".restore-gate.yml").read_text()))
    for key, value in fragment.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return yaml.safe_dump(merged, sort_keys=False)


def preceding(block: Block) -> Block:
    same = [b for b in BLOCKS if b.page == block.page and b.line < block.line]
    return same[-1]


def workflow_runs(workflow: dict) -> list[str]:
    """Each `run:` script, its step's `env:` filled in: `${{ matrix.K }}` from the matrix's
    first entry, any other expression a placeholder word."""
    scripts = []
    for job in workflow["jobs"].values():
        first = (job.get("strategy", {}).get("matrix", {}).get("include") or [{}])[0]
        for step in job.get("steps", []):
            if "run" in step:
                env = {name: expression(str(value), first)
                       for name, value in step.get("env", {}).items()}
                scripts.append(re.sub(r"\$(\w+)", partial(variable, env), step["run"]))
    return scripts


def expression(value: str, matrix: dict) -> str:
    value = re.sub(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", lambda m: str(matrix.get(m.group(1), "x")),
                   value)
    return re.sub(r"\$\{\{.*?\}\}", "x", value)


def variable(env: dict, match: re.Match) -> str:
    return env.get(match.group(1), match.group(0))


def check_yaml(block: Block, tmp_path: Path) -> str:
    project = example(tmp_path)
    data = yaml.safe_load(block.text)
    assert isinstance(data, dict), f"{block.where}: a yaml block is a mapping"
    if "jobs" in data:
        path = tmp_path / "workflow.yml"
        path.write_text(block.text, encoding="utf-8")
        result = lint(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                      str(path))
        assert result.returncode == 0, f"{block.where}\n{result.stdout}{result.stderr}"
        for run in workflow_runs(data):
            for argv in commands(run):
                if argv[0] == "restore-gate":  # a `run:` step's options parse too
                    parse_restore_gate(argv[1:], block.where)
        return "workflow"
    if block.marker == "error example":
        with pytest.raises(GateError) as refused:
            load(block.text, project)
        following = next(b for b in BLOCKS if b.page == block.page and b.line > block.line)
        assert following.lang == "text", f"{block.where}: an error example is followed by its text"
        assert " ".join(following.text.split()) in " ".join(str(refused.value).split())
        return "error example"
    if block.marker.startswith("reference"):
        parsed, lines = parse_yaml(block.text, project / ".restore-gate.yml")
        validate(parsed, lines, project / ".restore-gate.yml", "config.schema.json")
        return "reference config"
    if "version" in data:
        load(block.text, project)
        return "config"
    if set(data) <= THRESHOLD_KEYS:
        (project / "thresholds.yml").write_text(block.text, encoding="utf-8")
        config = load(over_example({"thresholds": "thresholds.yml"}, project), project)
        assert config.thresholds == data
        return "threshold file"
    assert set(data) <= CONFIG_KEYS, f"{block.where}: yaml of an unknown kind: {sorted(data)}"
    load(over_example(data, project), project)
    return "config fragment"


def parse_restore_gate(argv: list[str], where: str) -> None:
    """A synopsis (`[--pr N]`) is parsed with its optional parts written out."""
    words = [w.strip("[]") for w in argv if w.strip("[]") not in ("", "...")]
    words = ["1" if w == "N" else w for w in words]  # a number's placeholder
    try:
        parse(words)
    except SystemExit as exit_:
        pytest.fail(f"{where}: `restore-gate {' '.join(argv)}` does not parse (exit {exit_.code})")


def check_install(spec: str, where: str) -> None:
    """restore-gate is not on PyPI yet: it installs from a path or a git URL, with extras it
    has."""
    if spec.startswith("."):
        spec = "restore-gate" + spec[1:] + " @ file:///repo"
    requirement = Requirement(spec)
    assert requirement.name == "restore-gate", f"{where}: installs {requirement.name}"
    assert (requirement.url or "").startswith(("git+https://", "file://")), (
        f"{where}: `pip install {spec}`: restore-gate is not on PyPI yet; install from git")
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert requirement.extras <= set(extras), f"{where}: no extra {requirement.extras}"


def check_shell(block: Block) -> str:
    syntax = subprocess.run(["bash", "-n"], input=block.text, text=True, capture_output=True,
                            check=False)
    assert syntax.returncode == 0, f"{block.where}: {syntax.stderr}"
    for argv in commands(block.text):
        if argv[0] == "restore-gate":
            parse_restore_gate(argv[1:], block.where)
        elif argv[0] == "python" and argv[1].endswith(".py"):
            assert (REPO / argv[1]).is_file(), f"{block.where}: {argv[1]} does not exist"
        elif argv[:2] == ["pip", "install"]:
            check_install(argv[-1], block.where)
    return "shell, parsed"


def run_quick_start(block: Block, tmp_path: Path) -> str:
    check_shell(block)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for line in block.text.splitlines():
        if line.strip() == CI_TEST_COMMAND:  # the suite itself: the command CI runs
            assert CI_TEST_COMMAND in (REPO / ".ci" / "run").read_text()
            continue
        for argv in commands(line):
            if argv[:2] == ["pip", "install"]:  # resolves here, offline, installs nothing
                argv = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps",
                        "--no-index", "--no-build-isolation", *argv[2:]]
                cwd = REPO
            else:
                assert argv[0] == "restore-gate", f"{block.where}: no rule to run {argv}"
                argv, cwd = [sys.executable, "-m", "restore_gate", *argv[1:]], tmp_path
            done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                                  timeout=300, check=False)
            assert done.returncode == 0, f"{block.where}: {argv}\n{done.stdout}{done.stderr}"
    return "shell, run"


def check_block(block: Block, tmp_path: Path) -> str:
    if block.lang == "yaml":
        return check_yaml(block, tmp_path)
    if block.lang in ("bash", "sh"):
        if block.marker.startswith("parsed only"):
            return check_shell(block)
        if block.section == QUICK_START and block.page.name == "README.md":
            return run_quick_start(block, tmp_path)
        if block.section == CHECKLIST:
            check_shell(block)
            return "shell, run by test_checklist"
        return check_shell(block)
    if block.lang == "python":
        compile(block.text, block.where, "exec")
        assert block.section == CHECKLIST, f"{block.where}: python outside the checklist"
        return "python, run by test_checklist"
    if block.lang == "diff":
        assert block.section == CHECKLIST, f"{block.where}: a diff outside the checklist"
        project = example(tmp_path)
        applied = subprocess.run(["patch", "--dry-run", "-p1"], input=block.text, text=True,
                                 capture_output=True, cwd=project, check=False)
        assert applied.returncode == 0, f"{block.where}: {applied.stdout}{applied.stderr}"
        return "diff, applies to the example"
    if block.lang == "markdown":
        assert block.text in RENDERED, f"{block.where}: not a stored comment of tests/data/render"
        return "comment snapshot"
    if block.lang == "text" and block.marker == "package layout":
        assert block.page.name == "development.md", f"{block.where}: a second package map"
        return "package layout, checked by tests/test_layers.py"
    if block.lang == "text":
        assert preceding(block).marker == "error example", f"{block.where}: text of what?"
        return "error text"
    pytest.fail(f"{block.where}: a ```{block.lang} block has no rule in tests/test_docs.py")


@pytest.mark.parametrize("block", BLOCKS, ids=IDS)
def test_every_block(block, tmp_path):
    assert check_block(block, tmp_path)


def test_the_blocks_are_found():
    """The parser sees the blocks (a broken one would make every test above vacuous)."""
    kinds = {block.lang for block in BLOCKS}
    assert {"yaml", "bash", "python", "diff", "markdown", "text"} <= kinds
    assert len(BLOCKS) >= 30
    assert sum(b.section == CHECKLIST for b in BLOCKS) >= 8


def test_an_unknown_kind_fails(tmp_path):
    block = Block(REPO / "README.md", 1, "toml", "x = 1\n", "", "")
    with pytest.raises(pytest.fail.Exception, match="no rule"):
        check_block(block, tmp_path)


def test_a_drifted_option_fails(tmp_path):
    block = Block(REPO / "docs/cli.md", 1, "bash", "restore-gate check --chekpoint x\n", "", "")
    with pytest.raises(pytest.fail.Exception, match="does not parse"):
        check_block(block, tmp_path)


def test_a_config_block_that_does_not_load_fails(tmp_path):
    """The README's old threshold example: a threshold on a metric that is not measured."""
    text = "evaluation:\n  metrics: [accuracy]\nthresholds:\n  metrics:\n    auc: {max_drop: 0.1}\n"
    with pytest.raises(GateError, match="auc is not measured"):
        check_block(Block(REPO / "docs/drift.md", 1, "yaml", text, "", ""), tmp_path)


def test_readme_main_text_stays_short():
    words = len((REPO / "README.md").read_text(encoding="utf-8").split())
    assert words <= 5000
    first = next(b for b in BLOCKS if b.page.name == "README.md" and "jobs:" in b.text)
    assert first.line < 200, "the first workflow sits near the top"


def slugs(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    tokens = MarkdownIt("commonmark").parse(page.read_text(encoding="utf-8"))
    return {re.sub(r"[^\w\- ]", "", tokens[i + 1].content.lower()).replace(" ", "-")
            for i, token in enumerate(tokens) if token.type == "heading_open"}


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_links_between_the_pages_land_on_a_page_and_a_heading(page):
    text = page.read_text(encoding="utf-8")
    for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", text):
        if target.startswith(("http://", "https://")):
            continue
        linked = (page.parent / target).resolve() if target else page
        assert linked.exists(), f"{page.name}: link to {target}"
        if anchor:
            assert anchor in slugs(linked), f"{page.name}: no heading #{anchor} in {linked.name}"
