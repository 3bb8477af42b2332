"""Hostile input that tries to act on the host (issue 9, items 6, 7, 10, 11).

Each test is one attack, made with the real tool an attacker would use, and asserts that the
gate neither lets it act nor turns it into a pass:

- a release SavedModel runs code on load: a TF1 `main_op`, a TF2 resource initializer (6)
- a release HDF5 file reads host bytes: external storage, an external link, a virtual
  dataset, a soft link through an external link (7)
- a fork's artifact names the commit the check run goes on (11)
- branch code reads the token: the builder, a requirements package's setup.py, as `nobody`
  for real in a mount namespace (10); and ends the check without a report, or leaves a
  process behind to print workflow commands after the log's fence (10)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from formats_helpers import write_branch
from github_stub import github_fixture  # noqa: F401  (fixture)

from restore_gate.cli import main

# --- item 6: a SavedModel's init ops never run -------------------------------------------------

TF1_BRANCH = """\
import tensorflow as tf


class Served(tf.Module):
    def __init__(self):
        super().__init__()
        self.a = tf.Variable(0.0, name="a")
        self.b = tf.Variable(0.0, name="b")

    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
    def __call__(self, x):
        return {"y": self.a * x + self.b}


def build():
    return Served()
"""


def _tf1_saved_model_with_main_op(folder: Path, host_file: Path, dropped: Path) -> Path:
    """y = a*x + b written by `tf.compat.v1.saved_model.Builder`, whose `main_op` copies
    `host_file` to `dropped` (what `tf.saved_model.load` runs on load)."""
    import tensorflow as tf

    v1 = tf.compat.v1
    export = folder / "release"
    with tf.Graph().as_default(), v1.Session() as session:
        x = v1.placeholder(tf.float32, [None, 1], name="x")
        a = v1.get_variable("a", initializer=0.5)
        b = v1.get_variable("b", initializer=2.0)
        y = tf.identity(a * x + b, name="y")
        session.run(v1.global_variables_initializer())
        main_op = tf.io.write_file(str(dropped), tf.io.read_file(str(host_file)))
        signature = v1.saved_model.predict_signature_def({"x": x}, {"y": y})
        builder = v1.saved_model.Builder(str(export))
        builder.add_meta_graph_and_variables(
            session, ["serve"], signature_def_map={"serving_default": signature},
            main_op=main_op)
        builder.save()
    return export


def test_a_tf1_saved_model_main_op_never_runs_on_check_or_inspect(project, tmp_path, capsys):
    """Attack: a release SavedModel whose TF1 `main_op` reads a host file and writes another
    (TensorFlow's own loader runs it). The gate reads the variables with the checkpoint
    reader and builds the graph without executing it: no file is written, and the honest
    values still give the right verdict (pass, both values restored)."""
    host_file, dropped = tmp_path / "host-secret.txt", tmp_path / "dropped.txt"
    host_file.write_text("host secret")
    release = _tf1_saved_model_with_main_op(tmp_path, host_file, dropped)
    write_branch(project, TF1_BRANCH)

    assert main(["inspect", "--json", str(release)]) == 0
    listed = json.loads(capsys.readouterr().out)["init_ops"]
    assert len(listed) == 1 and listed[0].startswith("main_op ") and "not run" in listed[0]
    report_path = tmp_path / "report.json"
    code = main(["check", "--config", str(project.root / ".restore-gate.yml"),
                 "--checkpoint", str(release), "--report", str(report_path)])
    capsys.readouterr()
    assert not dropped.exists(), "the release's main_op ran on the host"
    report = json.loads(report_path.read_text())
    assert (code, report["verdict"], report["errors"]) == (0, "pass", [])
    assert report["model"]["restored"] == 2

    import tensorflow as tf  # ground truth: the attack is real for a plain load

    tf.saved_model.load(str(release))
    assert dropped.read_text() == "host secret"


def _tf2_saved_model_with_initializer(folder: Path, dropped: Path) -> Path:
    """y = a*x + b saved by `tf.saved_model.save`, holding a resource whose initializer (a
    function in the SavedModel, which `tf.saved_model.load` calls) writes `dropped`."""
    import tensorflow as tf

    class Writer(tf.saved_model.experimental.TrackableResource):
        def _create_resource(self):
            return tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=[], shared_name="writer")

        def _initialize(self):
            return tf.io.write_file(str(dropped), "written by the release")

    class Served(tf.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = tf.Variable(0.5, name="a"), tf.Variable(2.0, name="b")
            self.writer = Writer()

        @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
        def __call__(self, x):
            return {"y": self.a * x + self.b}

    module = Served()
    tf.saved_model.save(module, str(folder / "release"), signatures={"serving_default":
                                                                      module.__call__})
    return folder / "release"


def test_a_tf2_saved_model_resource_initializer_never_runs(project, tmp_path, capsys):
    """Attack: a TF2 SavedModel (object graph) with a resource whose initializer writes a host
    file: `tf.saved_model.load` calls it on load; `check` does not, and restores a and b."""
    dropped = tmp_path / "dropped.txt"
    release = _tf2_saved_model_with_initializer(tmp_path, dropped)
    write_branch(project, TF1_BRANCH)
    report_path = tmp_path / "report.json"
    code = main(["check", "--config", str(project.root / ".restore-gate.yml"),
                 "--checkpoint", str(release), "--report", str(report_path)])
    capsys.readouterr()
    assert not dropped.exists(), "the release's initializer ran on the host"
    report = json.loads(report_path.read_text())
    assert (code, report["verdict"], report["errors"]) == (0, "pass", [])
    assert report["model"]["restored"] == 2

    import tensorflow as tf  # ground truth: the attack is real for a plain load

    tf.saved_model.load(str(release))
    assert dropped.exists()


# --- item 7: HDF5 whose bytes live outside the file ---------------------------------------------

HOST_VALUE = 7.0  # what the host file holds: must never become a weight


def _keras_release(project, tmp_path: Path, kind: str) -> Path:
    """The branch's own model (so every weight pairs cleanly) saved by Keras as `kind`."""
    from formats_helpers import keras_model

    write_branch(project, keras_model())
    model = project.build()
    path = tmp_path / ("release.keras" if kind == "keras" else "release.weights.h5")
    model.save(path) if kind == "keras" else model.save_weights(path)
    return path


def _host_h5(tmp_path: Path, shape: tuple, dtype) -> Path:
    import h5py
    import numpy as np

    host = tmp_path / "host-data.h5"
    with h5py.File(host, "w") as handle:
        handle["secret"] = np.full(shape, HOST_VALUE, dtype)
    return host


def _replace_first_kernel(path: Path, make) -> str:
    """Swap the file's first weight dataset for `make(handle, name, shape, dtype)`; its name."""
    import h5py

    with h5py.File(path, "r+") as handle:
        names: list[str] = []
        handle.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        name = sorted(names)[0]
        shape, dtype = handle[name].shape, handle[name].dtype
        del handle[name]
        make(handle, name, shape, dtype)
    return name


def _check_error(project, release: Path, tmp_path: Path, capsys) -> dict:
    report_path = tmp_path / "report.json"
    code = main(["check", "--config", str(project.root / ".restore-gate.yml"),
                 "--checkpoint", str(release), "--report", str(report_path)])
    capsys.readouterr()
    report = json.loads(report_path.read_text())
    assert (code, report["verdict"]) == (2, "error")
    assert str(HOST_VALUE) not in json.dumps(report)
    return report["errors"][0]


def test_weights_h5_dataset_with_external_storage_is_refused(project, tmp_path, capsys):
    """Attack: a `.weights.h5` kernel stored as HDF5 external storage (its bytes are a raw
    host file): h5py, and so Keras's load_weights, would read the host bytes as weights."""
    import h5py
    import numpy as np

    release = _keras_release(project, tmp_path, "weights")
    raw = tmp_path / "host-raw.bin"

    def external(handle, name, shape, dtype):
        raw.write_bytes(np.full(shape, HOST_VALUE, dtype).tobytes())
        handle.create_dataset(name, shape, dtype, external=[(str(raw), 0, raw.stat().st_size)])

    name = _replace_first_kernel(release, external)
    with h5py.File(release) as handle:  # the attack is real: h5py reads the host bytes
        assert (handle[name][()] == HOST_VALUE).all()
    error = _check_error(project, release, tmp_path, capsys)
    assert f"/{name}" in error["message"] and str(release) in error["message"]
    assert "external storage" in error["message"]


def test_legacy_h5_external_link_to_a_host_file_is_refused(project, tmp_path, capsys):
    """Attack: a legacy Keras `.h5` whose weight is an `h5py.ExternalLink` into another HDF5
    file on the host."""
    import shutil

    import h5py
    from formats_helpers import FIXTURES
    from test_formats_keras_h5 import branch

    write_branch(project, branch())
    release = Path(shutil.copy(FIXTURES / "tfk_model.h5", tmp_path / "release.h5"))
    host = {}

    def link(handle, name, shape, dtype):
        host["file"] = _host_h5(tmp_path, shape, dtype)
        handle[name] = h5py.ExternalLink(str(host["file"]), "/secret")

    name = _replace_first_kernel(release, link)
    error = _check_error(project, release, tmp_path, capsys)
    assert f"/{name}" in error["message"] and "external link" in error["message"]
    assert main(["inspect", str(release)]) == 2
    capsys.readouterr()


def test_keras_file_with_a_virtual_dataset_is_refused(project, tmp_path, capsys):
    """Attack: a `.keras` whose `model.weights.h5` maps a kernel as a virtual dataset onto a
    host HDF5 file."""
    import zipfile

    import h5py

    release = _keras_release(project, tmp_path, "keras")
    inner = tmp_path / "model.weights.h5"
    with zipfile.ZipFile(release) as archive:
        inner.write_bytes(archive.read("model.weights.h5"))
        entries = {n: archive.read(n) for n in archive.namelist() if n != "model.weights.h5"}

    def virtual(handle, name, shape, dtype):
        layout = h5py.VirtualLayout(shape, dtype)
        layout[...] = h5py.VirtualSource(str(_host_h5(tmp_path, shape, dtype)), "secret", shape)
        handle.create_virtual_dataset(name, layout)

    name = _replace_first_kernel(inner, virtual)
    with zipfile.ZipFile(release, "w") as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)
        archive.write(inner, "model.weights.h5")
    error = _check_error(project, release, tmp_path, capsys)
    assert f"/{name}" in error["message"] and "virtual dataset" in error["message"]
    assert f"model.weights.h5 inside {release}" in error["message"]


def test_weights_h5_soft_link_out_through_an_external_link_is_refused(project, tmp_path, capsys):
    """Attack: a `.weights.h5` kernel that is a soft link to a path under an external link
    (`/mounted/secret`, with `/mounted` linking to a host HDF5 file)."""
    import h5py

    release = _keras_release(project, tmp_path, "weights")

    def soft(handle, name, shape, dtype):
        handle["zz_mounted"] = h5py.ExternalLink(str(_host_h5(tmp_path, shape, dtype)), "/")
        handle[name] = h5py.SoftLink("/zz_mounted/secret")

    name = _replace_first_kernel(release, soft)
    error = _check_error(project, release, tmp_path, capsys)
    assert f"/{name}" in error["message"] and "soft link" in error["message"]


# --- item 11: the check run goes on the trusted commit only -------------------------------------


def _passing_report() -> dict:
    from restore_gate.pipeline.draft import ReportDraft

    report = ReportDraft(runner={"name": "runner", "device": "CPU", "device_name": "",
                            "python": "3.11.7", "tensorflow": "2.21.0", "keras": "3.15.1"},
                    checkpoint={"source": "release", "format": "tf-checkpoint", "variables": 1},
                    model={"builder": "model:build", "variables": 1, "restored": 1})
    report.decide()
    return report.to_dict()


def test_check_run_ignores_the_head_sha_an_artifact_event_names(github, tmp_path, monkeypatch):
    """Attack: in the fork-safe `workflow_run` split, the fork's uploaded event names another
    commit (`pull_request.head.sha`, e.g. main's tip, and no pull request number, so the
    pull request's own head is not looked up): `--check-run` must put the passing check
    run on the trusted `workflow_run.head_sha` only, never on the forged commit."""
    github.add_pull(7)
    trusted, forged = github.pull_head(7), "b" * 40
    runtime, artifact = tmp_path / "runtime.json", tmp_path / "restore-gate-event.json"
    runtime.write_text(json.dumps({"workflow_run": {"head_sha": trusted, "pull_requests": []}}))
    artifact.write_text(json.dumps({"pull_request": {"head": {"sha": forged}}}))
    report = tmp_path / "report.json"
    report.write_text(json.dumps(_passing_report()))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(runtime))
    monkeypatch.setenv("GITHUB_SHA", forged)
    monkeypatch.chdir(tmp_path)
    assert main(["publish", "--event", str(artifact), "--check-run", "--no-comment",
                 str(report)]) == 0
    assert [run["head_sha"] for run in github.check_runs] == [trusted]


# --- item 10: branch code cannot reach the token ------------------------------------------------

TOKEN = "ghs_" + "StealMeIfYouCan" * 3
STEAL = '''\
import glob, json, os


def _steal():
    """Look for the token everywhere a process of this user could: its environment, the
    parent's and every process's /proc/<pid>/environ."""
    found = {"uid": os.getuid(), "environ": dict(os.environ), "procs": {}}
    for path in [f"/proc/{os.getppid()}/environ", *glob.glob("/proc/[0-9]*/environ")]:
        try:
            with open(path, "rb") as handle:
                found["procs"][path] = handle.read().decode("latin-1")
        except OSError as exc:
            found["procs"][path] = type(exc).__name__
    with open(os.path.join(LOOT, f"loot-{os.getpid()}.json"), "w") as handle:
        json.dump(found, handle)
'''


def _namespace_ready() -> str:
    """Why the privilege drop cannot be run for real here ('' when it can)."""
    import pwd
    import shutil
    import subprocess

    if os.geteuid() != 0:
        return "the privilege drop needs root (setuid to nobody)"
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        return "no `nobody` user to drop to"
    if not shutil.which("unshare"):
        return "no unshare(1) for a private mount namespace"
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        return "cannot create a mount namespace"
    closed = _closed_to_others(Path(sys.prefix))
    if closed:
        return f"{closed} is closed to other users, so `nobody` cannot run this Python"
    return ""


def _closed_to_others(prefix: Path) -> Path | None:
    """The first folder above `prefix` that other users cannot enter (/root aside: the test
    puts a tmpfs over it)."""
    for folder in [prefix.resolve(), *prefix.resolve().parents]:
        if folder == Path("/root") or folder.is_relative_to("/root"):
            continue
        if not folder.stat().st_mode & 0o001:
            return folder
    return None


needs_root = pytest.mark.skipif(bool(_namespace_ready()), reason=_namespace_ready() or "ready")


def _run_dropped(workspace: Path, env: dict[str, str]):
    """The entrypoint as root, as in the image: `RESTORE_GATE_USER=nobody`. The interpreter
    lives under /root (mode 0700 here, closed to nobody): a private mount namespace puts a
    tmpfs holding only the interpreter's folder over /root, so nothing of the host changes."""
    import subprocess
    import sys
    import tempfile

    from action_support import ENTRYPOINT, ActionRun, parse_outputs

    prefix = Path(sys.base_prefix).resolve()
    script, shadow = "exec \"$@\"", ""
    if prefix.is_relative_to("/root") and prefix != Path("/root"):
        top = Path("/root") / prefix.relative_to("/root").parts[0]
        shadow = tempfile.mkdtemp(prefix="restore-gate-ns-")
        script = (f'set -e; mount --bind {top} {shadow}; mount -t tmpfs -o mode=755 tmpfs /root; '
                  f'mkdir {top}; mount --bind {shadow} {top}; exec "$@"')
    args = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
            sys.executable, str(ENTRYPOINT)]
    try:
        proc = subprocess.run(args, cwd=workspace, env={**env, "RESTORE_GATE_USER": "nobody"},
                              capture_output=True, text=True, timeout=300, check=False)
    finally:
        if shadow:
            os.rmdir(shadow)  # the bind mount ended with the namespace
    return ActionRun(proc.returncode, proc.stdout, proc.stderr,
                     parse_outputs(Path(env["GITHUB_OUTPUT"]).read_text(encoding="utf-8")),
                     Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8"))


@pytest.fixture
def open_dirs():
    """Folders outside pytest's tmp (0700 to other users): workspace, runner temp, loot."""
    import shutil
    import tempfile

    made = []

    def make(mode: int = 0o755) -> Path:
        made.append(Path(tempfile.mkdtemp(prefix="restore-gate-hostile-")))
        made[-1].chmod(mode)
        return made[-1]

    yield make
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


def _loot(folder: Path) -> list[dict]:
    found = [json.loads(p.read_text()) for p in sorted(folder.glob("loot-*.json"))]
    assert found, "the attack did not run"
    return found


def _assert_no_token(loot: list[dict], token: str = TOKEN) -> None:
    for found in loot:
        assert token not in json.dumps(found), "branch code read the token"
        assert found["uid"] == 65534  # nobody
        parent = [v for k, v in found["procs"].items() if k.endswith("/environ")]
        assert "PermissionError" in parent  # the root processes' environ is closed to it


@needs_root
def test_builder_cannot_read_the_token_from_environ_or_proc(open_dirs):
    """Attack: the branch's builder reads `os.environ`, `/proc/<ppid>/environ` and every
    `/proc/*/environ` for the token (the action runs as root, the token in its environment).
    The release comes from the GitHub stand-in, which wants the token: the root process
    downloads it, the check runs as `nobody` without the token, and the verdict is right."""
    from action_support import action_env, release_bundle, write_project
    from conftest import functional_model
    from github_stub import GitHubStub

    workspace, temp, loot = open_dirs(), open_dirs(), open_dirs(0o777)
    write_project(workspace, 8, 'checkpoint:\n  release: {asset: "model-*.tar.gz"}\n')
    source = functional_model(units=8).replace("def build():\n", "def build():\n    _steal()\n")
    (workspace / "model.py").write_text(f"LOOT = {str(loot)!r}\n{STEAL}\n{source}")
    base = _commit_all(workspace)  # the check reads the base commit's config with git, as nobody
    with GitHubStub() as gh:
        gh.add_release("v1.0.0", {"model-1.0.0.tar.gz": release_bundle().read_bytes()})
        env = action_env(workspace, temp, {"mode": "check"}, gh.token,
                         {"pull_request": {"number": 7, "base": {"sha": base}}}, extra={
                             "GITHUB_TOKEN": gh.token, "GITHUB_API_URL": gh.base_url,
                             "GITHUB_REPOSITORY": gh.repo, "RESTORE_GATE_HTTP_BACKOFF": "0.01",
                             "RESTORE_GATE_CACHE": str(temp / "cache")})
        result = _run_dropped(workspace, env)
        assert len(gh.store_requests) == 1  # downloaded once, by the token holder
    assert result.returncode == 0, result.log
    assert result.outputs["verdict"] == "pass"
    report = json.loads((workspace / "restore-gate-report.json").read_text())
    assert report["verdict"] == "pass" and "v1.0.0" in report["checkpoint"]["source"]
    assert "not in the checkout" not in result.log and report["errors"] == []
    assert not [n for n in report["notices"] if "base commit" in n], report["notices"]
    _assert_no_token(_loot(loot), gh.token)


def _commit_all(root: Path) -> str:
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              cwd=root, check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "base")
    return git("rev-parse", "HEAD")


@needs_root
def test_requirements_setup_py_cannot_read_the_token(open_dirs):
    """Attack: a package named in the `requirements` input (an sdist, as PyPI serves them) whose
    setup.py, run by pip while it builds, reads `os.environ`, `/proc/<ppid>/environ` and
    `/proc/*/environ` for the token."""
    import io
    import tarfile

    from action_support import action_env, write_project

    workspace, temp, loot = open_dirs(), open_dirs(), open_dirs(0o777)
    write_project(workspace, 8, "checkpoint:\n  path: release/model.tar.gz\n")
    setup = (f"LOOT = {str(loot)!r}\n{STEAL}\n_steal()\n"
             "from setuptools import setup\nsetup(name='evilpkg', version='1.0', py_modules=[])\n")
    with tarfile.open(workspace / "evilpkg-1.0.tar.gz", "w:gz") as sdist:
        for name, text in (("setup.py", setup),
                           ("PKG-INFO", "Metadata-Version: 2.1\nName: evilpkg\nVersion: 1.0\n")):
            data = text.encode()
            member = tarfile.TarInfo(f"evilpkg-1.0/{name}")
            member.size, member.mode = len(data), 0o644
            sdist.addfile(member, io.BytesIO(data))
    (workspace / "requirements.txt").write_text("--no-index\n./evilpkg-1.0.tar.gz\n")
    env = action_env(workspace, temp, {"mode": "check", "config": "nope.yml",
                                       "requirements": "requirements.txt",
                                       "fail-on": "never"}, TOKEN,
                     {"pull_request": {"number": 7}},
                     extra={"GITHUB_TOKEN": TOKEN, "PIP_NO_BUILD_ISOLATION": "0"})
    result = _run_dropped(workspace, env)
    assert "Successfully installed evilpkg-1.0" in result.log, result.log
    assert result.outputs["verdict"] == "error"  # the check ran after it: no config
    _assert_no_token(_loot(loot))


def test_builder_that_ends_the_check_process_is_an_error_not_a_pass(tmp_path):
    """Attack: the builder calls `os._exit(0)` (no exception, no report). The check child
    ends with status 0 and no report: the action's verdict is `error`, never `pass`."""
    from action_support import action_env, run_action, write_project
    from conftest import functional_model

    workspace = write_project(tmp_path / "workspace", 8, "checkpoint:\n  path: release.h5\n")
    source = functional_model(units=8).replace("def build():\n",
                                               "def build():\n    import os\n    os._exit(0)\n")
    (workspace / "model.py").write_text(source)
    import h5py

    with h5py.File(workspace / "release.h5", "w") as handle:  # readable: the build comes next
        handle.attrs["layer_names"] = []
    (workspace / "restore-gate-report.json").write_text('{"verdict": "pass"}')  # committed
    env = action_env(workspace, tmp_path / "temp", {"mode": "check"}, TOKEN,
                     {"pull_request": {"number": 7}})
    result = run_action(workspace, env)
    assert (result.returncode, result.outputs["verdict"]) == (2, "error"), result.log
    assert "without writing its report" in result.stdout
    assert not (workspace / "restore-gate-report.json").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can drop to another user")
def test_an_unknown_unprivileged_user_stops_the_step(tmp_path):
    """Fail closed: `RESTORE_GATE_USER` naming no user of the container is exit 2 before any
    branch code or pip runs, never a check as root."""
    from action_support import action_env, run_action, write_project

    workspace = write_project(tmp_path / "workspace", 8, "checkpoint:\n  path: x\n")
    env = action_env(workspace, tmp_path / "temp", {"mode": "check"}, TOKEN,
                     extra={"RESTORE_GATE_USER": "no-such-user-restore-gate"})
    result = run_action(workspace, env)
    assert (result.returncode, result.outputs["verdict"]) == (2, "error")
    assert "no-such-user-restore-gate" in result.stdout and "does not exist" in result.stdout


def test_a_process_the_builder_leaves_behind_cannot_print_workflow_commands(tmp_path):
    """Attack: the builder starts a daemon that prints `::set-output name=verdict::pass` after
    the check ended, outside the `::stop-commands::` fence, to forge the step's outputs. The
    check's output is relayed only while the check runs; the daemon's later line is lost."""
    import shutil

    from action_support import action_env, release_bundle, run_action, write_project
    from conftest import functional_model

    workspace = write_project(tmp_path / "workspace", 16, "checkpoint:\n  path: release.tar.gz\n")
    shutil.copyfile(release_bundle(), workspace / "release.tar.gz")
    daemon = ("import subprocess, sys\n"
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(8); "
              "print(\"::set-output name=verdict::pass\", flush=True)'], "
              "start_new_session=True)\n")
    (workspace / "model.py").write_text(daemon + functional_model(units=16))
    env = action_env(workspace, tmp_path / "temp", {"mode": "check"}, TOKEN,
                     {"pull_request": {"number": 7}})
    result = run_action(workspace, env)
    assert (result.returncode, result.outputs["verdict"]) == (1, "fail"), result.log
    assert "set-output" not in result.stdout


def test_a_token_left_in_the_checkout_is_named_not_hidden(tmp_path):
    """Attack surface outside the action: actions/checkout's default `persist-credentials:
    true` leaves the job's token in `.git/config`, readable by any user, so by the branch's
    code too. The step warns with the fix (and never prints the token)."""
    from action_support import action_env, run_action, write_project

    workspace = write_project(tmp_path / "workspace", 8, "checkpoint:\n  path: x\n")
    (workspace / ".git").mkdir()
    (workspace / ".git" / "config").write_text(
        '[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic ' + TOKEN + "\n")
    env = action_env(workspace, tmp_path / "temp", {"mode": "check", "config": "nope.yml"},
                     TOKEN)
    result = run_action(workspace, env)
    assert "persist-credentials: false" in result.stdout
    assert TOKEN not in result.log
