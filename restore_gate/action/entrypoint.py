"""The container action's entry point: GitHub's `INPUT_*` / `GITHUB_*` environment → restore-gate.

GitHub passes each `with:` input as `INPUT_<NAME>` with the name upper-cased and its hyphens
kept (`INPUT_GITHUB-TOKEN`, `INPUT_FAIL-ON`), which is why the image runs this file directly
(`/bin/sh` drops such variables). The inputs map onto `restore-gate check` and/or
`restore-gate publish`; `fail-on` then decides the step's exit code, and the step outputs go to
`GITHUB_OUTPUT`. The token travels in the environment (`GITHUB_TOKEN`), never on a command line,
and is never printed.

This process holds the token and runs none of the branch's code: it downloads the release
(`check --fetch-only`) and publishes. The branch's code — `restore-gate check`, which imports the
builder, and `pip install -r requirements` — runs in child processes as the unprivileged
`RESTORE_GATE_USER` with an allowlisted environment (restore_gate/action/sandbox.py), while the
runner's command files are closed to them. The verdict is never the child's exit status alone:
this process loads the report the child wrote (bounded, strict JSON, schema-valid), judges it
(`report.judge`), and a missing or invalid report, one that disagrees with the exit status, or a
command file changed while branch code ran is an error.

Exit codes: the verdict's (0 pass, 1 fail, 2 error) filtered by `fail-on`; a misconfigured step
(an unknown input value, a requirements file that does not install) always exits 2.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restore_gate import cli
from restore_gate.action.copied_report import summary_text, verify
from restore_gate.action.sandbox import (
    PERSISTED_CREDENTIALS,
    CommandFiles,
    Sandbox,
    SandboxError,
    persisted_credentials,
)
from restore_gate.core.report import EXIT_CODES
from restore_gate.github.actions import Actions
from restore_gate.publish.annotations import mismatches_output

DEFAULTS = {  # the same defaults as action.yml (a `docker://` step gets no action.yml)
    "config": ".restore-gate.yml",
    "checkpoint": "",
    "mode": "check-and-publish",
    "device": "cpu",
    "reports": "",
    "github-token": "",
    "comment": "true",
    "fail-on": "fail",
    "requirements": "",
}
MODES = ("check", "publish", "check-and-publish")
FAIL_ON = ("fail", "error", "never")
DEVICES = ("cpu", "gpu", "auto")
BOOLEANS = {"true": True, "false": False}
VERDICTS = {code: verdict for verdict, code in EXIT_CODES.items()}  # 0 pass, 1 fail, 2 error
ERROR = EXIT_CODES["error"]
REPORT = "restore-gate-report.json"  # written in the workspace, so later steps can upload it
MARKDOWN = "restore-gate-comment.md"
EVENT = "restore-gate-event.json"  # `check` mode's copy of the event, for the fork-safe split


class InputError(Exception):
    """An input value the action cannot work with (always exit 2)."""


@dataclass
class Inputs:
    config: str
    checkpoint: str
    mode: str
    device: str
    reports: list[str]
    token: str
    comment: bool
    fail_on: str
    requirements: str


def input_value(env: Mapping[str, str], name: str) -> str:
    """One input as GitHub passes it: `INPUT_` + the name upper-cased, hyphens kept."""
    return env.get(f"INPUT_{name.replace(' ', '_').upper()}", "").strip() or DEFAULTS[name]


def choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = input_value(env, name).lower()
    if value not in allowed:
        raise InputError(f"input `{name}` is {value!r}: use one of {', '.join(allowed)}")
    return value


def read_inputs(env: Mapping[str, str]) -> Inputs:
    comment = input_value(env, "comment").lower()
    if comment not in BOOLEANS:
        raise InputError(f"input `comment` is {comment!r}: use true or false")
    reports = [line.strip() for line in input_value(env, "reports").splitlines() if line.strip()]
    return Inputs(
        config=input_value(env, "config"),
        checkpoint=input_value(env, "checkpoint"),
        mode=choice(env, "mode", MODES),
        device=choice(env, "device", DEVICES),
        reports=reports,
        token=input_value(env, "github-token") or env.get("GITHUB_TOKEN", ""),
        comment=BOOLEANS[comment],
        fail_on=choice(env, "fail-on", FAIL_ON),
        requirements=input_value(env, "requirements"),
    )


def apply_fail_on(code: int, fail_on: str) -> int:
    """The step's exit code: `fail` keeps the verdict's, `error` only fails on 2, `never` is 0."""
    if fail_on == "never":
        return EXIT_CODES["pass"]
    if fail_on == "error":
        return ERROR if code == ERROR else EXIT_CODES["pass"]
    return code


def log(message: str) -> None:
    print(f"restore-gate action: {message}", file=sys.stderr, flush=True)


def install_requirements(requirements: str, sandbox: Any, actions: Actions) -> None:
    """pip-install the model's own dependencies as the unprivileged user (their setup.py is
    branch code) into the sandbox's venv, where the check runs; InputError if it fails."""
    path = Path(requirements)
    if not path.is_file():
        raise InputError(f"input `requirements`: {requirements} is not a file in the workspace "
                         f"({Path.cwd()}); give its path relative to the repository root")
    command = ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-r",
               str(path)]
    print(f"::group::pip install -r {path}", flush=True)
    try:
        with actions.stop_commands():  # setup.py output: no workflow commands
            status = sandbox.python(command)
    finally:
        print("::endgroup::", flush=True)
    if status != 0:
        raise InputError(f"`pip install -r {path}` failed (exit {status}): see pip's output above; "
                         "fix the requirements file (versions that exist for Python "
                         f"{sys.version_info.major}.{sys.version_info.minor} on Linux) and rerun")


def trust_workspace(workspace: Path) -> None:
    """The checkout belongs to the runner's user, not to the container's root: tell git so."""
    count = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
    os.environ[f"GIT_CONFIG_KEY_{count}"] = "safe.directory"
    os.environ[f"GIT_CONFIG_VALUE_{count}"] = str(workspace)
    os.environ["GIT_CONFIG_COUNT"] = str(count + 1)


def base_commit(event_path: str | None) -> str | None:
    """The pull request's base commit, when the event names one; an `InputError` (exit 2) when
    the checkout does not hold it."""
    if not event_path or not Path(event_path).is_file():
        return None
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
        sha = event["pull_request"]["base"]["sha"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{40}", sha):
        return None
    git = shutil.which("git")
    found = git and subprocess.run(
        [git, "cat-file", "-e", f"{sha}^{{commit}}"], capture_output=True, check=False
    ).returncode == 0
    if not found:  # fail closed: the pull request's own settings must not decide its verdict
        raise InputError(
            f"the pull request's base commit {sha[:12]} is not in the checkout, so the gate "
            "cannot take its verdict-deciding settings (thresholds, allow, baseline, checkpoint "
            "source) from it, and will not let the pull request's own decide: check out with "
            "`fetch-depth: 2` in actions/checkout (or fetch the base commit before this step)")
    return sha


def check_arguments(inputs: Inputs, base: str | None, report: str = REPORT,
                    markdown: str = MARKDOWN) -> list[str]:
    argv = ["check", f"--config={inputs.config}", f"--device={inputs.device}",
            f"--report={report}", f"--markdown={markdown}"]
    if inputs.checkpoint:
        argv.append(f"--checkpoint={inputs.checkpoint}")  # `=`: a value may start with "-"
    if base:
        argv.append(f"--base={base}")
    return argv


def run_cli(argv: list[str]) -> int:
    """`restore_gate.cli.main(argv)` in this process; any crash is an error (2), never a pass.
    It runs none of the branch's code (`check --fetch-only`, `publish`)."""
    try:
        code = cli.main(argv)
    except BaseException as exc:  # fail closed: sys.exit(0) in branch code is no pass
        log(f"restore-gate was stopped: {type(exc).__name__}: {exc}")
        code = ERROR
    finally:
        sys.stdout.flush()
    return code if code in VERDICTS else ERROR


def matching_reports(patterns: list[str]) -> list[str]:
    found: list[str] = []
    for pattern in patterns:
        for path in sorted(glob.glob(pattern, recursive=True)):
            if Path(path).is_file() and path not in found:
                found.append(path)
    return found


def report_outputs(path: str, report: dict | None) -> dict[str, str]:
    """`report` and `mismatches` (one line per blocking mismatch, as `publish` writes them),
    the latter from the verified report only."""
    value = mismatches_output([report]) if report is not None else ""
    return {"report": path if Path(path).is_file() else "", "mismatches": value}


def verified_report(code: int | None, actions: Actions) -> tuple[int, dict | None]:
    """(exit code, report) from the report copied into the workspace (copied_report.verify),
    never from the check's exit status alone; the reason annotated when it is an error."""
    code, report, problem = verify(Path(REPORT), code)
    if problem:
        actions.annotate("error", problem)
    return code, report


def event_for(reports: list[str], env: Mapping[str, str]) -> str | None:
    """The event the reports belong to: `RESTORE_GATE_EVENT`, else the `restore-gate-event.json`
    a `check` step saved beside them (the fork-safe split uploads both as one artifact)."""
    if env.get("RESTORE_GATE_EVENT"):
        return env["RESTORE_GATE_EVENT"]
    for report in reports:
        candidate = Path(report).parent / EVENT
        if candidate.is_file():
            return str(candidate)
    return None


def save_event(env: Mapping[str, str]) -> None:
    """`check` mode keeps a copy of the event beside the report, for a later `publish`."""
    source = env.get("GITHUB_EVENT_PATH")
    if source and Path(source).is_file():
        replace_file(EVENT)
        shutil.copyfile(source, EVENT)


def replace_file(name: str) -> None:
    """Remove what the checkout holds under a name this process writes (a file the branch
    committed, or a symlink it planted to make root write elsewhere)."""
    if Path(name).is_symlink() or Path(name).exists():
        Path(name).unlink()


def hand_over(workspace: Path) -> None:
    """Give the files this root process wrote in the workspace to the workspace's owner (the
    runner's user), so that a reused self-hosted runner can clean them up."""
    if os.geteuid() != 0:
        return
    owner = workspace.stat()
    for name in (REPORT, MARKDOWN, EVENT):
        path = workspace / name
        if path.is_file() and not path.is_symlink():
            os.chown(path, owner.st_uid, owner.st_gid)


def output_size(env: Mapping[str, str]) -> int:
    path = env.get("GITHUB_OUTPUT")
    return Path(path).stat().st_size if path and Path(path).is_file() else -1


def check_step(inputs: Inputs, env: Mapping[str, str], sandbox: Any, actions: Actions,
               cli: Callable[[list[str]], int]) -> tuple[int, dict | None]:
    """`check`, split: this process (the token's) downloads the release and runs no branch
    code; the branch's code runs in `restore-gate check` as the sandbox's unprivileged user,
    without the token; its report and comment are copied back into the workspace."""
    for name in (REPORT, MARKDOWN):  # never a file the branch committed under these names
        replace_file(name)
    base = base_commit(env.get("GITHUB_EVENT_PATH"))
    with actions.stop_commands():  # the branch's names: no workflow commands
        code = _checked(inputs, base, sandbox, cli)
    return verified_report(code, actions)


def _checked(inputs: Inputs, base: str | None, sandbox: Any,
             cli: Callable[[list[str]], int]) -> int | None:
    record = sandbox.root / "prefetched.json"
    own = sandbox.root / REPORT, sandbox.root / MARKDOWN
    # the download's own stage lines would repeat the check's (config, fetch): one line here,
    # and its errors still print (a non-pass prints its comment)
    log("downloading the release (this process, with the token; no branch code runs here)")
    code = cli([*check_arguments(inputs, base, str(own[0]), str(own[1])),
                f"--fetch-only={record}", "--quiet"])
    if code != 0:  # the config or the download failed: that is the check's verdict
        for source, target in zip(own, (REPORT, MARKDOWN), strict=True):
            if source.is_file():
                shutil.copyfile(source, target)
        return code
    argv = check_arguments(inputs, base, str(sandbox.home / REPORT),
                           str(sandbox.home / MARKDOWN))
    code = sandbox.python(["-m", "restore_gate", *argv],
                          {"RESTORE_GATE_PREFETCHED": str(record)} if record.is_file() else {})
    copied = sandbox.collect(REPORT, Path(REPORT))
    sandbox.collect(MARKDOWN, Path(MARKDOWN))
    if not copied:
        return None
    return code if code in VERDICTS else 2


def run(inputs: Inputs, env: Mapping[str, str], sandbox: Any, actions: Actions,
        cli: Callable[[list[str]], int] = run_cli,
        guard: Any = None) -> tuple[int, dict[str, str] | None]:
    """Check and/or publish; return the verdict's exit code and the step outputs to write
    (None when `publish` wrote them itself). `guard`: the runner's command files, closed while
    branch code ran (sandbox.CommandFiles); a change to one is an error."""
    outputs: dict[str, str] = {"report": "", "mismatches": "", "comment-url": ""}
    code = 0
    reports: list[str] = []
    if inputs.mode in ("check", "check-and-publish"):
        code, report = check_step(inputs, env, sandbox, actions, cli)
        changed = guard.changed() if guard is not None else []
        if changed:
            actions.annotate("error", f"the branch's code changed {', '.join(changed)} (the "
                             "runner's command files) while it ran; the change was undone and "
                             "the verdict is error: a step must not let a pull request set "
                             "outputs or environment")
            code, report = ERROR, None
        outputs.update(report_outputs(REPORT, report))
        if inputs.mode == "check":
            write_summary(actions, report)
            save_event(env)
        if report is None:  # nothing unverified reaches `publish`
            return code, {**outputs, "verdict": VERDICTS[code]}
        if Path(REPORT).is_file():
            reports.append(REPORT)
    if inputs.mode in ("publish", "check-and-publish"):
        reports += [r for r in matching_reports(inputs.reports) if r not in reports]
        if not reports:
            raise InputError(
                "no report to publish: input `reports` "
                + (f"({', '.join(inputs.reports)}) matches no file in {Path.cwd()}"
                   if inputs.reports else "is empty")
                + "; give a glob of the report files the check jobs uploaded"
            )
        before = output_size(env)
        # The event beside this step's own report would be one the branch committed.
        event = event_for([r for r in reports if r != REPORT], env)
        replace_file(MARKDOWN)
        code = cli(publish_arguments(inputs, reports, event))
        if output_size(env) > before:
            return code, None
    outputs["verdict"] = VERDICTS[code]
    return code, outputs


def publish_arguments(inputs: Inputs, reports: list[str], event: str | None) -> list[str]:
    argv = ["publish", f"--markdown={MARKDOWN}", f"--config={inputs.config}"]
    if event:
        argv.append(f"--event={event}")
    if not inputs.comment:
        argv.append("--no-comment")
    return [*argv, "--", *reports]


def write_summary(actions: Actions, report: dict | None) -> None:
    """In `check` mode (nothing published), the verified report goes to the job summary, every
    layer (not only those the comment has room for); else a fixed line (copied_report)."""
    actions.add_summary(summary_text(report))


def main() -> int:
    env = os.environ
    # importing the branch's code must leave no root-owned __pycache__/ in the workspace
    sys.dont_write_bytecode = True
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    actions = Actions.from_env(env, enabled=True)  # the container action runs in a workflow
    workspace = Path(env.get("GITHUB_WORKSPACE") or Path.cwd())
    sandbox = guard = None
    try:
        inputs = read_inputs(env)
        os.chdir(workspace)
        trust_workspace(workspace)
        if inputs.token:
            os.environ["GITHUB_TOKEN"] = inputs.token  # for fetch and publish; never on argv
        if inputs.mode != "publish":  # `publish` alone runs no branch code at all
            guard = CommandFiles.close(env)  # until this process exits (and its children)
            sandbox = Sandbox.create(env)
            sandbox.prepare()
            if sandbox.warning:
                actions.annotate("warning", sandbox.warning)
            if persisted_credentials(workspace):
                actions.annotate("warning", PERSISTED_CREDENTIALS)
        if inputs.requirements and sandbox is not None:
            install_requirements(inputs.requirements, sandbox, actions)
        code, outputs = run(inputs, env, sandbox, actions, guard=guard)
    except (InputError, SandboxError, OSError) as error:
        return failed(f"{error}", actions, guard)
    except Exception as error:  # fail closed, outputs written: never a traceback and no verdict
        return failed(f"unexpected {type(error).__name__} in the action: {error}"[:1000],
                      actions, guard)
    finally:
        if sandbox is not None:
            sandbox.cleanup()
        hand_over(workspace)
    if outputs is not None:
        actions.set_outputs(outputs)
    if guard is not None:
        guard.reopen()
    status = apply_fail_on(code, inputs.fail_on)
    log(f"verdict {VERDICTS[code]} (exit {code}); fail-on: {inputs.fail_on} → "
        f"the step exits {status}")
    return status


def failed(message: str, actions: Actions, guard: Any) -> int:
    """The step's end when it could not decide: an error annotation and `verdict=error`."""
    actions.annotate("error", message)
    if guard is not None:
        guard.changed()  # whatever branch code wrote there is undone
    actions.set_outputs({"verdict": "error", "report": "", "comment-url": "", "mismatches": ""})
    if guard is not None:
        guard.reopen()
    return ERROR


if __name__ == "__main__":
    sys.exit(main())
