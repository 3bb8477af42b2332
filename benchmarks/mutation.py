"""Mutation run over the code that decides the verdict: the score and every surviving mutant.

    python benchmarks/mutation.py                 # every TARGETS module, its fast TESTS (~12 min)
    python benchmarks/mutation.py drift.py        # only the modules whose path ends so
    python benchmarks/mutation.py --workdir DIR   # keep the copy (mutmut reuses its results)

On demand only: not in CI, not collected by pytest. It copies the checkout (tracked and new
files) to a scratch folder, writes mutmut's settings into that copy's pyproject.toml (the
checkout is never changed), runs `mutmut run` there at the lowest CPU priority, then prints
one line per module (killed / total), the score, and each survivor with its diff.

mutmut 3 (`pip install mutmut`), not cosmic-ray: mutmut compiles every mutant of a module into
one copy with a switch, records which tests reach which function, and forks one process per
mutant that runs only those tests, so a mutant costs milliseconds; cosmic-ray rewrites the file
and starts the whole test command per mutant (~2 s of interpreter and pytest start each).

Score = killed / (killed + survived + no tests): a mutant no test reaches counts against it;
a timeout (the mutant hangs the tests) or a crash counts as killed; skipped ones are left out.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# What decides a verdict: module path -> its functions (`Class.method`, `*` for all). Update
# here when restore_gate is reorganised (issue 16).
TARGETS = {
    "restore_gate/judge/compare.py": ["find_mismatches", "pair_renames", "_matches",
                                      "judge_optimizer", "same_optimizer"],
    "restore_gate/core/pairing.py": ["same_spec"],
    "restore_gate/judge/drift.py": ["*"],  # outputs and metrics against the release
    "restore_gate/settings/config.py": ["check_directions", "validate", "load_threshold_file",
                                        "inside", "threshold_changes"],  # thresholds, validation
    "restore_gate/settings/sections.py": ["Config.from_data", "Config.with_base",
                                          "setting_changes", "_flatten", "_empty"],  # --base
    "restore_gate/core/report.py": ["exit_code", "judge", "failing_drift", "_not_finite",
                                    "Report.blocking", "Report.decide", "validate_report"],
    "restore_gate/publish/__init__.py": ["rejudged"],  # a report given to publish, re-judged
    "restore_gate/present/markdown.py": ["escape", "_escape_block_start", "code"],  # branch text
    "restore_gate/release/bundle.py": ["extract_bundle", "_extract", "_copy", "unpack_budget",
                                       "_too_big", "members", "unsafe", "check_archive_members",
                                       "relative_state", "check_state_file"],
    "restore_gate/publish/sticky.py": ["ours", "upsert"],  # the one sticky comment
    "restore_gate/action/sandbox.py": ["Sandbox.collect", "Sandbox.environment"],  # the sandbox
}
TESTS = [
    "tests/test_compare.py",
    "tests/test_report_judge.py",
    "tests/test_drift.py",
    "tests/test_config.py",
    "tests/test_config_typed.py",
    "tests/test_render.py",
    "tests/test_publish_render.py",
    "tests/test_render_budget.py",
    "tests/test_render_snapshots.py",
    "tests/test_hostile_markdown.py",
    "tests/test_bundle.py",
    "tests/test_bundle_stream.py",
    "tests/test_bundle_rules.py",
    "tests/test_publish.py",
    "tests/test_sandbox_collect.py",
]
# Strings with a space are prose (messages, hints): their wording decides no verdict, and
# mutmut's three case/XX mutants of each would bury the ones that do. Keys and verdicts
# ("max_drop", "fail") are single words and stay mutated.
MUTATE_PROSE = False
DETECTED = {"killed", "timeout", "segfault", "caught by type check"}
MISSED = {"survived", "no tests", "suspicious"}
REPO = Path(__file__).resolve().parent.parent


def checkout_files(repo: Path) -> list[str]:
    """The checkout's tracked and new (not ignored) files."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=repo,
                            capture_output=True, check=True).stdout.decode()
    return [name for name in listed.split("\0") if name and (repo / name).is_file()]


def prepare(repo: Path, work: Path, modules: list[str], tests: list[str]) -> None:
    """A copy of the checkout with mutmut's settings in its pyproject.toml."""
    files = checkout_files(repo)
    for name in files:
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / name, work / name)
    settings = {
        "source_paths": ["restore_gate"],
        "only_mutate": modules,
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-p", "no:randomly", "-q"],
        "pytest_add_cli_args_test_selection": [t for t in tests if (work / t).is_file()],
        "use_git_change_detection": False,
        # the rest of the checkout (entrypoint.py, action.yml, README.md...) beside the mutants
        "also_copy": sorted({n.split("/")[0] for n in files} - {"restore_gate"}),
    }
    lines = ["", "[tool.mutmut]"] + [f"{key} = {json.dumps(value)}"
                                     for key, value in settings.items()]
    with (work / "pyproject.toml").open("a", encoding="utf-8") as config:
        config.write("\n".join(lines) + "\n")


def patterns(targets: dict[str, list[str]]) -> list[str]:
    """mutmut's names for the mutants of each target function (fnmatch patterns)."""
    found = []
    for path, functions in targets.items():
        module = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for function in functions:
            owner, _, method = function.rpartition(".")
            mangled = f"x\u01c1{owner}\u01c1{method}" if owner else f"x_{function}"
            found.append(f"{module}.{'x*' if function == '*' else mangled}__mutmut_*")
    return found


# mutmut, with prose strings left alone unless MUTATE_PROSE (see above), in one process
LAUNCH = """
import sys
import mutmut.mutation.mutators as m

original = m.operator_string

def operator_string(node):
    if " " not in getattr(node, "value", ""):
        yield from original(node)

if not {prose}:
    m.mutation_operators[:] = [(t, operator_string if f is original else f)
                               for t, f in m.mutation_operators]
if sys.argv[1] == "diffs":
    from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant
    for name in sys.argv[2:]:
        print(f"--- {{name}}")
        print(get_diff_for_mutant(name, path=find_mutant(name).path).strip())
else:
    from mutmut.__main__ import cli
    sys.argv[0] = "mutmut"
    cli()
"""


def mutmut(work: Path, *args: str, log: Path | None = None) -> str:
    env = {**os.environ, "PYTHONPATH": "", "CUDA_VISIBLE_DEVICES": "-1",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = ["nice", "-n", "19", sys.executable, "-c", LAUNCH.format(prose=MUTATE_PROSE),
               *args]
    if log is None:
        return subprocess.run(command, cwd=work, env=env, capture_output=True, text=True,
                              check=True).stdout
    with log.open("w", encoding="utf-8") as out:
        subprocess.run(command, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
                       check=True)
    return ""


def statuses(work: Path, wanted: list[str]) -> dict[str, str]:
    """mutant name -> status of the targeted mutants, from `mutmut results --all true`."""
    found = {}
    for line in mutmut(work, "results", "--all", "true").splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name and any(fnmatch.fnmatchcase(name, p) for p in wanted):
            found[name] = status
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="only the modules whose path ends so")
    parser.add_argument("--workdir", type=Path, help="keep the copy here (reused if present)")
    parser.add_argument("--max-children", default="2")
    args = parser.parse_args()
    targets = {m: f for m, f in TARGETS.items()
               if not args.only or any(m.endswith(o) for o in args.only)}
    wanted = patterns(targets)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="restore-gate-mutation-"))
    work.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    if not (work / "pyproject.toml").is_file():
        prepare(REPO, work, list(targets), TESTS)
    log = work / "mutmut-run.log"
    try:
        mutmut(work, "run", "--max-children", args.max_children, *wanted, log=log)
    except subprocess.CalledProcessError:
        print(log.read_text(encoding="utf-8", errors="replace")[-4000:])
        print(f"mutmut run failed: log in {log}")
        return 2
    found = statuses(work, wanted)
    print(f"mutation run: {len(found)} mutants of {len(targets)} modules' verdict code, "
          f"{time.monotonic() - start:.0f} s (work folder {work})")
    for module in targets:
        dotted = module.removesuffix(".py").removesuffix("/__init__").replace("/", ".") + ".x"
        print(f"  {module:36} {_score([s for n, s in found.items() if n.startswith(dotted)])}")
    print(f"score: {_score(list(found.values()))}")
    missed = sorted(n for n, s in found.items() if s in MISSED)
    if missed:
        print(f"\n{len(missed)} not killed (survived, or no test reaches them):")
        print(mutmut(work, "diffs", *missed))
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _score(states: list[str]) -> str:
    caught = sum(s in DETECTED for s in states)
    judged = caught + sum(s in MISSED for s in states)
    share = f"{100 * caught / judged:.1f} %" if judged else "n/a"
    return f"{caught}/{judged} killed = {share}"


if __name__ == "__main__":
    sys.exit(main())
