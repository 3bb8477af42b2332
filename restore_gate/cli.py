"""Command line: `restore-gate check | inspect | snapshot | publish | demo | migrate`.

Exit codes for every command: 0 pass, 1 fail, 2 error (never a pass).
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from restore_gate import __version__
from restore_gate.core.report import EXIT_CODES, exit_code
from restore_gate.errors import GateError, raised
from restore_gate.runtime import DEVICES, VERBOSE
from restore_gate.settings.config import DEFAULT_CONFIG

if TYPE_CHECKING:
    from restore_gate.publish.options import PublishOptions

ERROR = EXIT_CODES["error"]


EXAMPLES = {
    "check": "restore-gate check --base origin/main --report report.json --markdown comment.md",
    "inspect": "restore-gate inspect release/model.tar.gz --json",
    "snapshot": "restore-gate snapshot ckpt/ckpt-3 --out release/model.tar.gz",
    "publish": "restore-gate publish report-cpu.json report-gpu.json --markdown comment.md",
    "migrate": "restore-gate migrate ckpt/ckpt-3 --out model.weights.h5",
    "demo": "restore-gate demo --workdir demo-files",
}


class _Parser(argparse.ArgumentParser):
    """argparse's parser, keeping its option strings and subcommands where `parse()` can read
    them (argparse keeps both in private attributes)."""

    def __init__(self, *args, **kwargs) -> None:
        self.options: list[str] = []
        self.subcommands: dict[str, _Parser] = {}
        super().__init__(*args, **kwargs)

    def add_argument(self, *args, **kwargs) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        self.options += action.option_strings
        return action


def _parser() -> _Parser:
    parser = _Parser(
        prog="restore-gate",
        description="Restore the released checkpoint into this branch's model and report "
        "every incompatibility. Exit codes: 0 pass, 1 fail, 2 error.",
        epilog="example:\n  " + EXAMPLES["check"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"restore-gate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> _Parser:
        sub = commands.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".",
                                  epilog=f"example:\n  {EXAMPLES[name]}",
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.subcommands[name] = sub
        return sub

    check = command("check", "restore the release checkpoint into this branch's model and "
                    "judge it (exit 0 pass, 1 fail, 2 error)")
    _checkpoint(check, "the release: a path, a URL or 'release' (default: checkpoint: in the "
                "config)", required=False)
    _common(check)
    check.add_argument("--report", type=Path, metavar="PATH", help="write the JSON report here")
    check.add_argument("--markdown", type=Path, metavar="PATH",
                       help="write the rendered comment here (it is printed too)")
    check.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    check.add_argument("--verbose", action="store_true",
                       help="also show TensorFlow's start-up and tf.function retracing messages")
    check.add_argument("--base", metavar="REF", help="the pull request's base commit: its "
                       "config decides the verdict (thresholds, allow, release, baseline); a "
                       "ref that is not a commit in the checkout is an error (exit 2)")
    check.add_argument("--fetch-only", type=Path, help=argparse.SUPPRESS)  # the action's
    check.add_argument("--stage-timeout", type=_seconds, metavar="SECONDS",
                       help="time limit of each stage (default: limits.stage_seconds in the "
                       "config, else 600); a stage over it ends in error (exit 2)")
    check.add_argument("--baseline-ref", metavar="REF", help="git ref (release tag) whose "
                       "code, with the same checkpoint, gives the baseline for a bare checkpoint")

    inspect = command("inspect", "list a checkpoint's variables, format and writer versions "
                      "from its metadata (no TensorFlow needed)")
    _checkpoint(inspect, "the checkpoint or bundle to list")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    inspect.add_argument("--format", default="auto", help="override format detection (default: "
                         "auto)")

    snap = command("snapshot", "write a release bundle (.tar.gz): the checkpoint plus golden "
                   "outputs, metrics and fingerprints of the model it restores into")
    _checkpoint(snap, "the checkpoint to release")
    snap.add_argument("--out", required=True, type=Path, metavar="PATH",
                      help="the bundle to write, e.g. release/model.tar.gz")
    snap.add_argument("--device", choices=DEVICES, default="cpu",
                      help="device that computes the golden outputs (default: cpu)")
    snap.add_argument("--config", type=Path, default=Path(DEFAULT_CONFIG), metavar="PATH",
                      help="record golden outputs and metrics with this config's builder and "
                      "evaluation data (skipped, with a notice, if the file does not exist)")
    snap.add_argument("--upload", metavar="URI",
                      help="then put the bundle where check reads it: s3://BUCKET/KEY, "
                      "gs://BUCKET/KEY, or models:/NAME/VERSION | models:/NAME@ALIAS (attached "
                      "to the MLflow model version; the alias moves to it)")
    snap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    snap.add_argument("--verbose", action="store_true",
                      help="also show TensorFlow's start-up and tf.function retracing messages")

    publish = command("publish", "merge runner reports into one pull request comment and post "
                      "it (exit code: the worst verdict)")
    publish.add_argument("reports", nargs="+", type=Path, metavar="REPORT",
                         help="JSON reports written by check --report")
    publish.add_argument("--markdown", type=Path, metavar="PATH",
                         help="write the merged comment here")
    publish.add_argument("--config", type=Path, default=Path(DEFAULT_CONFIG), metavar="PATH",
                         help="config with the `publish:` settings (optional)")
    publish.add_argument("--pr", type=int, help="pull request number (default: from the event)")
    publish.add_argument("--repo", metavar="OWNER/NAME",
                         help="repository (default: GITHUB_REPOSITORY)")
    publish.add_argument("--event", type=Path, metavar="PATH",
                         help="event JSON the reports belong to (artifact)")
    publish.add_argument("--no-comment", action="store_true", help="do not post the comment")
    publish.add_argument("--check-run", action="store_true", help="also create a check run")
    publish.add_argument("--comment-author", metavar="LOGIN", help="login the sticky comment "
                         "is written as (default: the token's own, e.g. github-actions[bot])")

    migrate = command("migrate", "write a Keras 3 .weights.h5 from a tf.keras (Keras 2) "
                      "tf.train.Checkpoint, verified with Keras's load_weights")
    _checkpoint(migrate, "the tf.keras checkpoint (prefix or folder)")
    migrate.add_argument("--out", required=True, type=Path, metavar="PATH",
                         help="the .weights.h5 to write")
    migrate.add_argument("--config", type=Path, default=Path(DEFAULT_CONFIG), metavar="PATH",
                         help="config whose builder builds the release's model")

    demo = command("demo", "run the whole gate on the bundled example, offline (~30 s)")
    demo.add_argument("--workdir", type=Path, metavar="DIR",
                      help="keep the demo's project, release and reports here")
    return parser


def _checkpoint(parser: argparse.ArgumentParser, text: str, required: bool = True) -> None:
    """The checkpoint, the same way in every command: `CHECKPOINT` or `--checkpoint PATH`."""
    parser.add_argument("checkpoint_arg", nargs="?", metavar="CHECKPOINT", help=text)
    parser.add_argument("--checkpoint", dest="checkpoint_opt", metavar="CHECKPOINT",
                        help="the same, as an option")
    parser.set_defaults(checkpoint_required=required)


def _resolve_checkpoint(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not hasattr(args, "checkpoint_arg"):
        return
    given = [v for v in (args.checkpoint_arg, args.checkpoint_opt) if v]
    if len(given) == 2 and given[0] != given[1]:
        parser.error(f"the checkpoint is given twice ({given[0]!r} and --checkpoint "
                     f"{given[1]!r}): give it once")
    if not given and args.checkpoint_required:
        parser.error("the checkpoint is missing: give it as CHECKPOINT or --checkpoint PATH")
    args.checkpoint = given[0] if given else None


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=Path(DEFAULT_CONFIG), metavar="PATH",
                        help=f"config file (default: {DEFAULT_CONFIG})")
    parser.add_argument("--device", choices=DEVICES, default="cpu",
                        help="cpu (default), gpu (exit 2 if none is visible) or auto")


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse like argparse, but a mistyped option gets the subcommand's usage and a
    did-you-mean (argparse alone shows the top-level usage and no suggestion)."""
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    sub = _subparsers(parser)[args.command]
    if unknown:
        hints = []
        for token in unknown:
            guess = difflib.get_close_matches(token.split("=")[0], sub.options, n=1)
            hints.append(f"{token} (did you mean {guess[0]}?)" if guess else token)
        sub.error(f"unrecognized arguments: {' '.join(hints)}")
    _resolve_checkpoint(sub, args)
    return args


def _subparsers(parser: _Parser) -> dict[str, _Parser]:
    return dict(parser.subcommands)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if getattr(args, "verbose", False):
        os.environ[VERBOSE] = "1"
    try:
        return COMMANDS[args.command](args)
    except GateError as error:
        print(f"restore-gate: error ({error.stage}): {error}", file=sys.stderr)
    except RecursionError as exc:  # e.g. a file nested too deeply for a reader
        print(f"restore-gate: error: {args.command} hit Python's recursion limit ({exc}): an "
              "input is nested too deeply to be judged", file=sys.stderr)
    except Exception as exc:  # fail closed: an unforeseen crash is an error (2), not exit 1
        traceback.print_exc()
        print(f"restore-gate: error: unexpected {type(exc).__name__} in {args.command}: {exc} "
              "(a restore-gate bug unless the message says otherwise: please report it with "
              "the traceback above)", file=sys.stderr)
    except BaseException as exc:  # SystemExit/KeyboardInterrupt from code the command ran
        print(f"restore-gate: error: {args.command} was stopped by {raised(exc)}",
              file=sys.stderr)
    return ERROR


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value!r}")
    return seconds


def cmd_check(args: argparse.Namespace) -> int:
    from restore_gate.github import GitHub
    from restore_gate.github.context import source_links
    from restore_gate.pipeline.check import CheckOptions, run_check

    def emit(report) -> None:
        from restore_gate.present.comment import render

        if args.report:  # first: the verdict is kept even if rendering fails
            report.write(args.report)
        markdown = render(report, links=source_links())
        if args.markdown:
            args.markdown.parent.mkdir(parents=True, exist_ok=True)
            args.markdown.write_text(markdown, encoding="utf-8")
        if args.fetch_only is None or report.verdict != "pass":
            print(markdown, flush=True)

    report = run_check(CheckOptions(args.config, args.checkpoint, args.device, args.quiet,
                                    base=args.base, baseline_ref=args.baseline_ref,
                                    fetch_only=args.fetch_only,
                                    stage_timeout=args.stage_timeout, on_abort=emit,
                                    github=GitHub.from_env))
    emit(report)
    return exit_code(report.verdict)


def cmd_inspect(args: argparse.Namespace) -> int:
    from restore_gate.commands.inspect import format_text, inspect_checkpoint, to_json

    data = inspect_checkpoint(Path(args.checkpoint), args.format)
    print(to_json(data) if args.json else format_text(data))
    for problem in data.get("problems", []):  # listed, but no checkpoint TensorFlow can load
        print(f"restore-gate: error (inspect): {problem}", file=sys.stderr)
    return ERROR if data.get("problems") else EXIT_CODES["pass"]


def cmd_snapshot(args: argparse.Namespace) -> int:
    from restore_gate.commands.snapshot import snapshot, summary
    from restore_gate.runtime import describe_device, prepare_device
    from restore_gate.settings.config import load_config

    prepare_device(args.device)
    config = load_config(args.config) if args.config.is_file() else None
    if config is None:
        print(f"restore-gate: no {args.config}: writing a bare bundle without golden outputs "
              "or metrics (drift will not be measured against it)", file=sys.stderr)
    def say(message: str) -> None:
        if not args.quiet:
            print(f"restore-gate: {message}", file=sys.stderr, flush=True)

    manifest = snapshot(Path(args.checkpoint), args.out, describe_device(args.device), Path.cwd(),
                        config, say)
    for line in summary(manifest, args.out):
        print(f"restore-gate: {line}", file=sys.stderr)
    if args.upload:
        from restore_gate.release.stores import store_settings, upload_store

        section = config.checkpoint if config else None
        where = upload_store(args.out, args.upload, store_settings(section))
        print(f"restore-gate: uploaded {where}", file=sys.stderr)
    return 0


def publish_options(args: argparse.Namespace) -> PublishOptions:
    from restore_gate.publish.options import PublishOptions

    return PublishOptions(
        reports=tuple(args.reports), markdown=args.markdown, config=args.config, pr=args.pr,
        repo=args.repo, event=args.event, comment=not args.no_comment, check_run=args.check_run,
        comment_author=args.comment_author)


def cmd_publish(args: argparse.Namespace) -> int:
    from restore_gate.github import GitHub
    from restore_gate.publish import publish_command

    return publish_command(publish_options(args), GitHub.from_env())


def cmd_demo(args: argparse.Namespace) -> int:
    from restore_gate.commands.demo import run_demo

    return run_demo(args.workdir)


def cmd_migrate(args: argparse.Namespace) -> int:
    from restore_gate.commands.migrate import migrate
    from restore_gate.settings.config import load_config

    count = migrate(Path(args.checkpoint), load_config(args.config), args.out)
    print(f"restore-gate: wrote {args.out}: {count} values, verified with Keras's load_weights "
          "(optimizer state is not migrated)", file=sys.stderr)
    return 0


COMMANDS = {
    "check": cmd_check,
    "inspect": cmd_inspect,
    "snapshot": cmd_snapshot,
    "publish": cmd_publish,
    "demo": cmd_demo,
    "migrate": cmd_migrate,
}
