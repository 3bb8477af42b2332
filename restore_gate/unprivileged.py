"""The container action's privilege split: branch code never runs where the token is.

The action's process (root in the container) holds the token. It runs no branch code: it
reads the inputs, downloads the release (`check --fetch-only`), and publishes. The branch's
code (`restore-gate check`, which imports the builder and the data callable) and
`pip install -r requirements` (whose packages run setup.py) run in child processes as an
unprivileged user (`RESTORE_GATE_USER`, the image's `restore-gate`; `nobody` if unset) with
no token in their environment. A different uid cannot read the root process's
`/proc/<pid>/environ` or memory, signal it, or write its files; the child writes into a
private folder and the action copies the report from there (a regular file, bounded).

Where the action is not root, it cannot change user: it warns, and the README's fork-safe
split (no token in the job that runs branch code) is the protection.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

USER_ENV = "RESTORE_GATE_USER"
DEFAULT_USER = "nobody"
MAX_COPY = 256 * 1024 * 1024  # a report or comment larger than this is not one
_SECRET = re.compile(r"TOKEN|SECRET|PASSWORD|CREDENTIAL|^INPUT_|^ACTIONS_", re.IGNORECASE)


class SandboxError(Exception):
    """The unprivileged user cannot be set up (always exit 2)."""


@dataclass
class Sandbox:
    root: Path  # the action's own folder: readable by the child, writable only by root
    home: Path  # the child's HOME, TMPDIR and output folder
    prefix: Path  # `pip install --prefix` target of the requirements
    uid: int | None  # None: no privilege drop (not root, or RESTORE_GATE_USER="")
    gid: int | None
    warning: str | None = None

    @classmethod
    def create(cls, env: Mapping[str, str]) -> Sandbox:
        root = Path(tempfile.mkdtemp(prefix="restore-gate-action-"))
        root.chmod(0o755)
        home, prefix = root / "home", root / "requirements"
        for folder in (home, home / "tmp", prefix):
            folder.mkdir(mode=0o700)
        uid = gid = None
        warning = None
        name = env.get(USER_ENV, DEFAULT_USER).strip()
        if os.geteuid() != 0:
            warning = (f"the action runs as uid {os.geteuid()}, not root, so it cannot run the "
                       "branch's code as another user: that code could read the token from "
                       "this process. Use the fork-safe split (README: the job that runs the "
                       "branch's code gets no write token)")
        elif not name:
            warning = (f"{USER_ENV} is empty: the branch's code runs as root beside the token; "
                       "set it to an unprivileged user (the image's is restore-gate)")
        else:
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                shutil.rmtree(root, ignore_errors=True)
                raise SandboxError(f"{USER_ENV} names the user {name!r}, which does not exist in "
                                   "this container: create it (useradd) or name another "
                                   "unprivileged user") from None
            if entry.pw_uid == 0:
                raise SandboxError(f"{USER_ENV} names {name!r}, which is root: name an "
                                   "unprivileged user")
            uid, gid = entry.pw_uid, entry.pw_gid
            for folder in (home, home / "tmp", prefix):
                os.chown(folder, uid, gid)
        return cls(root, home, prefix, uid, gid, warning)

    @property
    def dropped(self) -> bool:
        return self.uid is not None

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The parent's environment minus every secret, with the child's own HOME and the
        requirements' site folder on PYTHONPATH."""
        env = {k: v for k, v in os.environ.items() if not _SECRET.search(k)}
        paths = [*self.site_folders(), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        env.update({"HOME": str(self.home), "TMPDIR": str(self.home / "tmp"),
                    "RESTORE_GATE_CACHE": str(self.home / "cache"),
                    "PYTHONPATH": os.pathsep.join(paths), **(extra or {})})
        for name in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "KERAS_HOME", "PIP_CACHE_DIR"):
            env.pop(name, None)
        return env

    def site_folders(self) -> list[str]:
        """Where `pip install --prefix` put the packages (site- or dist-packages)."""
        found = glob.glob(str(self.prefix / "**" / "site-packages"), recursive=True)
        found += glob.glob(str(self.prefix / "**" / "dist-packages"), recursive=True)
        return sorted(found)

    def run(self, command: list[str], extra: Mapping[str, str] | None = None,
            cwd: str | None = None) -> int:
        """`command` as the unprivileged user (no supplementary groups), secrets scrubbed."""
        drop = {"user": self.uid, "group": self.gid, "extra_groups": []} if self.dropped else {}
        sys.stdout.flush()
        sys.stderr.flush()
        return subprocess.run(command, env=self.environment(extra), cwd=cwd, check=False,
                              umask=0o022, **drop).returncode

    def python(self, args: list[str], extra: Mapping[str, str] | None = None) -> int:
        return self.run([sys.executable, *args], extra)

    def probe(self) -> None:
        """The user must be able to run this Python (and import restore_gate): else exit 2."""
        if not self.dropped:
            return
        done = subprocess.run([sys.executable, "-c", "import restore_gate"], capture_output=True,
                              env=self.environment(), check=False, user=self.uid,
                              group=self.gid, extra_groups=[])
        if done.returncode != 0:
            raise SandboxError(f"the unprivileged user (uid {self.uid}) cannot run "
                               f"{sys.executable} and import restore_gate: make the interpreter "
                               "and its packages readable by all users")

    def collect(self, name: str, target: Path) -> bool:
        """Copy the child's output file `name` to `target`: a regular file only (never a link
        the child planted), bounded in size; `target` is replaced, never followed."""
        try:
            fd = os.open(self.home / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return False
        with os.fdopen(fd, "rb") as source:
            info = os.fstat(source.fileno())
            if not (stat.S_ISREG(info.st_mode) and info.st_size <= MAX_COPY):
                return False
            data = source.read(MAX_COPY + 1)
        if target.is_symlink() or target.exists():
            target.unlink()
        target.write_bytes(data)
        return True

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
