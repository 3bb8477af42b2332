"""`restore-gate demo`: the whole gate on the bundled example, offline, with no token.

Trains the example classifier (seconds, deterministic data), snapshots it as the
release, checks the unchanged branch (pass), then two pull requests: a silent
activation change (fail on drift) and one that widens a layer and inserts another
(fail on structure), printing the comment the gate would post for each.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from restore_gate.branch.build import resolve_callable
from restore_gate.commands.snapshot import snapshot
from restore_gate.core.report import exit_code
from restore_gate.pipeline.check import CheckOptions, run_check
from restore_gate.present.comment import render
from restore_gate.runtime import describe_device, import_tensorflow, prepare_device
from restore_gate.settings.config import load_config

EXAMPLE_FILES = ("classifier.py", "data.py")
SILENT_CHANGE = ('activation="relu"', 'activation="sigmoid"')
BREAKING_CHANGE = (
    '    x = keras.layers.Dense(hidden_units, activation="relu", name="hidden")(inputs)\n',
    '    x = keras.layers.Dense(hidden_units * 2, activation="relu", name="hidden")(inputs)\n'
    '    x = keras.layers.Dense(8, activation="relu", name="bottleneck")(x)\n',
)


def say(message: str) -> None:
    print(f"demo: {message}", file=sys.stderr, flush=True)


def copy_example(project: Path) -> None:
    source = resources.files("restore_gate.example")
    project.mkdir(parents=True, exist_ok=True)
    for name in EXAMPLE_FILES:
        (project / name).write_text(source.joinpath(name).read_text("utf-8"), encoding="utf-8")
    config = source.joinpath("restore-gate.yml").read_text("utf-8")
    (project / ".restore-gate.yml").write_text(config, encoding="utf-8")


def train_release(project: Path) -> Path:
    """Train the example for a few epochs and snapshot it as `release/model.tar.gz`."""
    prepare_device("cpu")
    tf = import_tensorflow()
    tf.keras.utils.set_random_seed(0)
    build = resolve_callable("classifier:build_model", project, [])
    x, y = resolve_callable("data:train_data", project, [])()
    model = build(num_classes=3)
    model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    prefix = tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(
        str(project / "release-checkpoint" / "ckpt")
    )
    bundle = project / "release" / "model.tar.gz"
    config = load_config(project / ".restore-gate.yml")
    snapshot(Path(prefix), bundle, describe_device("cpu"), project, config)
    return bundle


def run_gate(project: Path, label: str, show_comment: bool = True):
    """Check the project as it is now; print the comment the gate would post."""
    report = run_check(CheckOptions(config=project / ".restore-gate.yml", quiet=True))
    if show_comment or report.errors:
        print(render(report))
    code = exit_code(report.verdict)
    say(f"verdict on {label}: {report.verdict} (exit code {code})")
    return report


def run_demo(workdir: Path | None = None) -> int:
    """Exit 0 when the gate passed the unchanged branch and failed the breaking one."""
    keep = workdir is not None
    base = workdir or Path(tempfile.mkdtemp(prefix="restore-gate-demo-"))
    project = base / "project"
    try:
        copy_example(project)
        say(f"training the example classifier in {project} (a few seconds)")
        bundle = train_release(project)
        say(f"released {bundle.relative_to(base)}")
        say("checking the unchanged branch")
        unchanged = run_gate(project, "the unchanged branch", show_comment=False)
        model_file = project / "classifier.py"
        original = model_file.read_text()
        say("pull request 1: the hidden activation relu -> sigmoid (weights still restore)")
        model_file.write_text(original.replace(*SILENT_CHANGE), encoding="utf-8")
        silent = run_gate(project, "pull request 1")
        say("pull request 2: widen `hidden` (16 -> 32 units) and insert a `bottleneck` layer")
        model_file.write_text(original.replace(*BREAKING_CHANGE), encoding="utf-8")
        report = run_gate(project, "pull request 2")
    finally:
        if not keep:
            shutil.rmtree(base, ignore_errors=True)
    ok = unchanged.verdict == "pass" and silent.verdict == "fail" and report.verdict == "fail"
    say("the gate passed the unchanged branch and blocked both changes" if ok
        else "unexpected verdicts: see above")
    for line in next_lines(project, keep):
        say(line)
    return 0 if ok else 2


def next_lines(project: Path, kept: bool) -> list[str]:
    """Where to go from the demo: its files, and the example to copy into a project."""
    example = Path(str(resources.files("restore_gate.example")))
    if kept:
        first = (f"the example project, its release and config are in {project}: try "
                 f"`cd {project} && restore-gate check` after editing classifier.py")
    else:
        first = ("the demo's files were removed; run `restore-gate demo --workdir DIR` to keep "
                 "the example project, its release and config")
    return [first, f"the example's source (builder, data, .restore-gate.yml): {example}; "
                   "README, \"Use it in your repository\", walks your own project through it"]
