"""The container action's privilege split: branch code never runs where the token is.

The action's process (root in the container) holds the token. It runs no branch code: it
reads the inputs, downloads the release (`check --fetch-only`), and publishes. The branch's
code (`restore-gate check`, which imports the builder and the data callable) and
`pip install -r requirements` (whose packages run setup.py) run in child processes as an
unprivileged user (`RESTORE_GATE_USER`; the image sets, and the default is, `nobody`) with
an allowlisted environment (`child_environment`: no token, no secret, no command file), while
the runner's command files are closed to them (`CommandFiles`), in a virtual environment of
their own that sees the image's packages after its own. A different uid cannot read the root
process's `/proc/<pid>/environ` or memory, signal it, or write its files; the child writes into a
private folder and the action copies the report from there (a regular file, bounded).

Where the action is not root, it cannot change user: it warns, and the README's fork-safe
split (no token in the job that runs branch code) is the protection.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import re
import selectors
import shutil
import site
import stat
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

USER_ENV = "RESTORE_GATE_USER"
DEFAULT_USER = "nobody"
MAX_COPY = 256 * 1024 * 1024  # a report or comment larger than this is not one
# What crosses into branch code: an allowlist (README, "Security model", lists it). Everything
# else — tokens, cloud keys, GITHUB_OUTPUT/ENV/PATH/STATE/STEP_SUMMARY, ACTIONS_*, INPUT_* — stays.
ALLOWED = frozenset({
    "PATH", "LANG", "LANGUAGE", "TZ", "TERM", "CI", "LD_LIBRARY_PATH", "XLA_FLAGS",
    "KERAS_BACKEND", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED",
    "PYTHONIOENCODING", "PYTHONUTF8", "PYTHONHASHSEED", "PYTHONWARNINGS", "PYTHONNOUSERSITE",
    "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_FIND_LINKS", "PIP_NO_INDEX",
    "PIP_NO_BUILD_ISOLATION", "PIP_CONSTRAINT", "PIP_DEFAULT_TIMEOUT", "PIP_RETRIES", "PIP_CERT",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
    "GITHUB_ACTIONS", "GITHUB_WORKSPACE", "GITHUB_REPOSITORY", "GITHUB_SERVER_URL", "GITHUB_SHA",
    "GITHUB_REF", "GITHUB_HEAD_REF", "GITHUB_BASE_REF", "GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH",
    "GITHUB_RUN_ID", "RUNNER_NAME", "RUNNER_OS", "RUNNER_ARCH",
})
ALLOWED_PREFIXES = ("LC_", "TF_", "CUDA_", "NVIDIA_", "OMP_", "RESTORE_GATE_")
# A second net over the allowlist: a name that looks like a secret never crosses.
_SECRET = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|PRIVATE|AUTH|_KEY|APIKEY", re.IGNORECASE)
COMMAND_FILES = ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STATE",
                 "GITHUB_STEP_SUMMARY")
MAX_RESTORE = 16 * 1024 * 1024  # a command file up to this size is put back as it was


def child_environment(parent: Mapping[str, str], home: Path, workspace: Path,
                      extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment branch code gets: the allowlisted names of `parent` (no secret-looking
    name among them), its own HOME/TMPDIR/cache, and git told to trust `workspace` (the
    parent's own GIT_CONFIG_* may carry credentials: they do not cross)."""
    env = {k: v for k, v in parent.items()
           if (k in ALLOWED or k.startswith(ALLOWED_PREFIXES)) and not _SECRET.search(k)}
    env.update({"HOME": str(home), "TMPDIR": str(home / "tmp"),
                "RESTORE_GATE_CACHE": str(home / "cache"), "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": str(workspace),
                **(extra or {})})
    return env


class SandboxError(Exception):
    """The unprivileged user cannot be set up (always exit 2)."""


@dataclass
class Sandbox:
    root: Path  # the action's own folder: readable by the child, writable only by root
    home: Path  # the child's HOME and TMPDIR, its output folder and its virtual environment
    uid: int | None  # None: no privilege drop (not root, or RESTORE_GATE_USER="")
    gid: int | None
    warning: str | None = None

    @classmethod
    def create(cls, env: Mapping[str, str]) -> Sandbox:
        root = Path(tempfile.mkdtemp(prefix="restore-gate-action-"))
        root.chmod(0o755)
        home = root / "home"
        for folder in (home, home / "tmp"):
            folder.mkdir(mode=0o700)
        try:
            uid, gid, warning = _user(env.get(USER_ENV, DEFAULT_USER).strip())
        except SandboxError:
            shutil.rmtree(root, ignore_errors=True)
            raise
        if uid is not None:
            for folder in (home, home / "tmp"):
                os.chown(folder, uid, gid)
        return cls(root, home, uid, gid, warning)

    @property
    def dropped(self) -> bool:
        return self.uid is not None

    @property
    def interpreter(self) -> Path:
        return self.home / "venv" / "bin" / "python"

    def prepare(self) -> None:
        """The child's virtual environment, made by the child's user: it sees this
        interpreter's packages (TensorFlow, restore_gate) after its own, so `pip install -r`
        adds or upgrades packages there without touching the image's (pip leaves packages
        outside a virtual environment alone). SandboxError if the user cannot run it."""
        venv = self.interpreter.parent.parent
        self._must([sys.executable, "-m", "venv", "--without-pip", str(venv)], "create a venv")
        found = self._must([str(self.interpreter), "-c",
                            "import sysconfig; print(sysconfig.get_path('purelib'))"],
                           "run the venv's Python")
        parents = [p for p in site.getsitepackages() if Path(p).is_dir()]
        (Path(found.strip()) / "restore-gate-parent.pth").write_text(
            f"import site; list(map(site.addsitedir, {parents!r}))\n", encoding="utf-8")
        self._must([str(self.interpreter), "-c", "import restore_gate"], "import restore_gate")

    def _must(self, command: list[str], what: str) -> str:
        done = subprocess.run(command, capture_output=True, text=True, env=self.environment(),
                              check=False, **self._drop())
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or [""])[-1][:300]
            raise SandboxError(f"the unprivileged user (uid {self.uid}) cannot {what} with "
                               f"{sys.executable}: {last}; make the interpreter and its "
                               "packages readable by all users")
        return done.stdout

    def _drop(self) -> dict:
        return {"user": self.uid, "group": self.gid, "extra_groups": []} if self.dropped else {}

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """`child_environment` of this process's environment, in the current folder."""
        return child_environment(os.environ, self.home, Path.cwd(), extra)

    def python(self, args: list[str], extra: Mapping[str, str] | None = None) -> int:
        """The venv's Python as the unprivileged user (no supplementary groups), secrets
        scrubbed; its exit status. Its output (stdout and stderr) reaches the log only while
        it runs: a process it leaves behind cannot print workflow commands afterwards."""
        sys.stdout.flush()
        sys.stderr.flush()
        process = subprocess.Popen([str(self.interpreter), *args], env=self.environment(extra),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, umask=0o022, **self._drop())
        _relay(process)
        return process.returncode

    def collect(self, name: str, target: Path) -> bool:
        """Copy the child's output file `name` to `target`: a regular file only (never a link
        the child planted), bounded in size; `target` is replaced, never followed."""
        try:
            fd = os.open(self.home / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return False
        info = os.fstat(fd)
        if not (stat.S_ISREG(info.st_mode) and info.st_size <= MAX_COPY):  # a folder, a FIFO
            os.close(fd)
            return False
        with os.fdopen(fd, "rb") as source:
            data = source.read(MAX_COPY + 1)
        if target.is_symlink() or target.exists():
            target.unlink()
        target.write_bytes(data)
        return True

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class CommandFiles:
    """The runner's command files (`GITHUB_OUTPUT`, `GITHUB_ENV`, ...) while branch code runs:
    closed to other users (0600: under act, or a self-hosted runner with a loose umask, they are
    0666), each remembered by inode, size, mtime and SHA-256, so that a change made behind the
    action's back is found, undone and reported."""

    files: dict[str, tuple[Path, tuple, bytes | None, int]] = field(default_factory=dict)

    @classmethod
    def close(cls, env: Mapping[str, str]) -> CommandFiles:
        guard = cls()
        for name in COMMAND_FILES:
            path = Path(env[name]) if env.get(name) else None
            if path is None or path.is_symlink() or not path.is_file():
                continue
            info = path.stat()
            guard.files[name] = (path, _fingerprint(path), _small(path), info.st_mode & 0o7777)
            with contextlib.suppress(OSError):
                path.chmod(0o600)
        return guard

    def changed(self) -> list[str]:
        """The names of the files that changed since `close`, each put back as it was."""
        found = []
        for name, (path, before, content, mode) in list(self.files.items()):
            if _fingerprint(path) != before:
                found.append(name)
                _put_back(path, content)
                self.files[name] = (path, _fingerprint(path), content, mode)
        return found

    def reopen(self) -> None:
        """Their modes as they were (the action's own writes are done)."""
        for path, _, _, mode in self.files.values():
            with contextlib.suppress(OSError):
                if not path.is_symlink():
                    path.chmod(mode)


def _fingerprint(path: Path) -> tuple:
    try:
        info = os.lstat(path)
        digest = hashlib.sha256()
        with open(path, "rb", opener=lambda p, f: os.open(p, f | os.O_NOFOLLOW)) as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        return ("unreadable", type(exc).__name__)
    return info.st_ino, info.st_size, info.st_mtime_ns, stat.S_IFMT(info.st_mode), digest.digest()


def _small(path: Path) -> bytes | None:
    return path.read_bytes() if path.stat().st_size <= MAX_RESTORE else None


def _put_back(path: Path, content: bytes | None) -> None:
    """The file as it was (None: too large to have been kept: emptied instead)."""
    with contextlib.suppress(OSError):
        if path.is_symlink() or (path.exists() and not path.is_file()):
            path.unlink()
        path.write_bytes(content or b"")
        path.chmod(0o600)


PERSISTED_CREDENTIALS = (
    "the checkout keeps a token in .git/config (actions/checkout's persist-credentials defaults "
    "to true), where the branch's code can read it whatever user it runs as: set "
    "`persist-credentials: false` on the checkout step")


def persisted_credentials(workspace: Path) -> bool:
    """Whether actions/checkout left a token in the checkout's git config, where any user (so
    the branch's code) can read it."""
    try:
        text = (workspace / ".git" / "config").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"(?im)^\s*extraheader\s*=\s*AUTHORIZATION:", text) is not None


def _relay(process: subprocess.Popen) -> None:
    """Copy `process`'s output to ours until it exits; then close the pipe, so whatever it left
    running (a daemon holding the pipe) can no longer write to the log."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    os.set_blocking(fd, False)
    out = sys.stdout.buffer
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            exited = process.poll() is not None
            ready = bool(selector.select(timeout=0.1))
            if (ready or exited) and (not _copy(fd, out) or exited):
                break
    process.stdout.close()
    process.wait()


def _copy(fd: int, out) -> bool:
    """Copy what the pipe holds now; False at its end."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        out.write(chunk)
        out.flush()


def _user(name: str) -> tuple[int | None, int | None, str | None]:
    """(uid, gid, warning) of the user branch code runs as."""
    if os.geteuid() != 0:
        return None, None, (
            f"the action runs as uid {os.geteuid()}, not root, so it cannot run the branch's "
            "code as another user: that code could read the token from this process. Use the "
            "fork-safe split (README: the job that runs the branch's code gets no write token)")
    if not name:
        return None, None, (f"{USER_ENV} is empty: the branch's code runs as root beside the "
                            "token; set it to an unprivileged user (the image sets nobody)")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise SandboxError(f"{USER_ENV} names the user {name!r}, which does not exist in this "
                           "container: create it (useradd) or name another unprivileged "
                           "user") from None
    if entry.pw_uid == 0:
        raise SandboxError(f"{USER_ENV} names {name!r}, which is root: name an unprivileged user")
    return entry.pw_uid, entry.pw_gid, None
