"""Command line: `restore-gate check | inspect | snapshot | publish | demo | migrate`.

Exit codes for every command: 0 pass, 1 fail, 2 error (never a pass).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from restore_gate import __version__
from restore_gate.config import DEFAULT_CONFIG
from restore_gate.errors import GateError, raised
from restore_gate.report import EXIT_CODES, exit_code
from restore_gate.runtime import DEVICES

ERROR = EXIT_CODES["error"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="restore-gate",
        description="Restore the released checkpoint into this branch's model and report "
        "every incompatibility. Exit codes: 0 pass, 1 fail, 2 error.",
    )
    parser.add_argument("--version", action="version", version=f"restore-gate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="restore the release checkpoint into this branch")
    _common(check)
    check.add_argument("--report", type=Path, help="write the JSON report here")
    check.add_argument("--markdown", type=Path, help="write the rendered comment here")
    check.add_argument("--quiet", action="store_true", help="no progress lines")
    check.add_argument("--base", help="git ref (the pull request's base) whose config supplies "
                       "the verdict-deciding settings; a ref that is not a commit in the "
                       "checkout is an error (exit 2)")
    check.add_argument("--fetch-only", type=Path, help=argparse.SUPPRESS)  # the action's
    check.add_argument("--stage-timeout", type=_seconds, metavar="SECONDS",
                       help="time limit of each stage (default: limits.stage_seconds in the "
                       "config, else 600); a stage over it ends in error (exit 2)")
    check.add_argument("--baseline-ref", help="git ref (release tag) whose code, with the same "
                       "checkpoint, gives the baseline for a bare checkpoint")

    inspect = commands.add_parser("inspect", help="list a checkpoint's variables from metadata")
    inspect.add_argument("checkpoint", type=Path)
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    inspect.add_argument("--format", default="auto", help="override format detection")

    snap = commands.add_parser("snapshot", help="write a release bundle (.tar.gz)")
    snap.add_argument("--checkpoint", required=True, type=Path)
    snap.add_argument("--out", required=True, type=Path)
    snap.add_argument("--device", choices=DEVICES, default="cpu")
    snap.add_argument("--config", type=Path, default=Path(DEFAULT_CONFIG),
                      help="record golden outputs and metrics with this config's builder and "
                      "evaluation data (skipped, with a notice, if the file does not exist)")

    publish = commands.add_parser("publish", help="merge reports and post the comment")
    publish.add_argument("reports", nargs="+", type=Path)
    publish.add_argument("--markdown", type=Path, help="write the merged comment here")
    publish.add_argument("--config", type=Path, default=Path(DEFAULT_CONFIG),
                         help="config with the `publish:` settings (optional)")
    publish.add_argument("--pr", type=int, help="pull request number (default: from the event)")
    publish.add_argument("--repo", help="owner/name (default: GITHUB_REPOSITORY)")
    publish.add_argument("--event", type=Path, help="event JSON the reports belong to (artifact)")
    publish.add_argument("--no-comment", action="store_true", help="do not post the comment")
    publish.add_argument("--check-run", action="store_true", help="also create a check run")
    publish.add_argument("--comment-author", help="login the sticky comment is written as "
                         "(default: the token's own, e.g. github-actions[bot])")

    migrate = commands.add_parser(
        "migrate", help="write a Keras 3 .weights.h5 from a tf.keras (Keras 2) tf.train.Checkpoint")
    migrate.add_argument("checkpoint", type=Path)
    migrate.add_argument("--out", required=True, type=Path, help="the .weights.h5 to write")
    migrate.add_argument("--config", type=Path, default=Path(DEFAULT_CONFIG),
                         help="config whose builder builds the release's model")

    demo = commands.add_parser("demo", help="run the gate on the bundled example, offline")
    demo.add_argument("--workdir", type=Path, help="keep the demo's files here")
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=Path(DEFAULT_CONFIG),
                        help=f"config file (default: {DEFAULT_CONFIG})")
    parser.add_argument("--checkpoint", help="PATH, URL or 'release' (overrides the config)")
    parser.add_argument("--device", choices=DEVICES, default="cpu",
                        help="cpu (default), gpu (exit 2 if none is visible) or auto")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
    import math

    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value!r}")
    return seconds


def cmd_check(args: argparse.Namespace) -> int:
    from restore_gate.check import CheckOptions, run_check
    from restore_gate.links import SourceLinks

    def emit(report) -> None:
        from restore_gate.render import render

        if args.report:  # first: the verdict is kept even if rendering fails
            report.write(args.report)
        markdown = render(report.to_dict(), links=SourceLinks.from_actions())
        if args.markdown:
            args.markdown.parent.mkdir(parents=True, exist_ok=True)
            args.markdown.write_text(markdown, encoding="utf-8")
        if args.fetch_only is None or report.verdict != "pass":
            print(markdown, flush=True)

    report = run_check(CheckOptions(args.config, args.checkpoint, args.device, args.quiet,
                                    base=args.base, baseline_ref=args.baseline_ref,
                                    fetch_only=args.fetch_only,
                                    stage_timeout=args.stage_timeout, on_abort=emit))
    emit(report)
    return exit_code(report.verdict)


def cmd_inspect(args: argparse.Namespace) -> int:
    from restore_gate.inspect_cmd import format_text, inspect_checkpoint, to_json

    data = inspect_checkpoint(args.checkpoint, args.format)
    print(to_json(data) if args.json else format_text(data))
    for problem in data.get("problems", []):  # listed, but no checkpoint TensorFlow can load
        print(f"restore-gate: error (inspect): {problem}", file=sys.stderr)
    return ERROR if data.get("problems") else EXIT_CODES["pass"]


def cmd_snapshot(args: argparse.Namespace) -> int:
    from restore_gate.config import load_config
    from restore_gate.runtime import describe_device, prepare_device
    from restore_gate.snapshot import snapshot

    prepare_device(args.device)
    config = load_config(args.config) if args.config.is_file() else None
    if config is None:
        print(f"restore-gate: no {args.config}: writing a bare bundle without golden outputs "
              "or metrics (drift will not be measured against it)", file=sys.stderr)
    manifest = snapshot(args.checkpoint, args.out, describe_device(args.device), Path.cwd(),
                        config)
    print(f"restore-gate: wrote {args.out} ({manifest['format']}, "
          f"{len(manifest['variables'])} values)", file=sys.stderr)
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from restore_gate.publish import publish_command

    return publish_command(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from restore_gate.demo import run_demo

    return run_demo(args.workdir)


def cmd_migrate(args: argparse.Namespace) -> int:
    from restore_gate.config import load_config
    from restore_gate.migrate import migrate

    count = migrate(args.checkpoint, load_config(args.config), args.out)
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
