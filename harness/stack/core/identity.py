"""The unprivileged identity for services that refuse to run as root."""

from __future__ import annotations

import os
import pwd
import subprocess
import threading
from pathlib import Path

from harness.core.errors import HarnessError
from harness.stack.core.process import RunAs

SERVICE_USER = "harness"
_lock = threading.Lock()


def service_identity() -> RunAs | None:
    """None when we are not root (services run as us); else the `harness` system user, created if missing."""
    if os.geteuid() != 0:
        return None
    with _lock:
        try:
            entry = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            result = subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
                capture_output=True, text=True, check=False,
            )
            if result.returncode not in (0, 9):  # 9: created concurrently by someone else
                raise HarnessError(
                    f"cannot create the unprivileged user {SERVICE_USER!r} Postgres needs when run as root",
                    detail=result.stderr.strip(),
                    hint=f"create it yourself: `useradd --system --no-create-home {SERVICE_USER}`, or run "
                    "the harness as a normal user",
                ) from None
            entry = pwd.getpwnam(SERVICE_USER)
    return RunAs(SERVICE_USER, entry.pw_uid, entry.pw_gid)


def hand_over(path: Path, who: RunAs | None, mode: int = 0o700) -> None:
    """Create ``path`` owned by ``who`` (Postgres insists its data dir is 0700 and its own)."""
    path.mkdir(parents=True, exist_ok=True)
    if who is not None:
        os.chown(path, who.uid, who.gid)
    os.chmod(path, mode)


def ensure_traversable(path: Path, who: RunAs | None) -> None:
    """The service user must be able to reach its data dir; a 0700 parent (e.g. pytest's tmp dirs) would
    make initdb fail with a bare "Permission denied", so say which directory and what to do."""
    if who is None:
        return
    for parent in [path, *path.parents]:
        st = parent.stat()
        if st.st_uid == who.uid:
            ok = bool(st.st_mode & 0o100)
        elif st.st_gid == who.gid:
            ok = bool(st.st_mode & 0o010)
        else:
            ok = bool(st.st_mode & 0o001)
        if not ok:
            raise HarnessError(
                f"the work root {path} is not reachable by the user {who.user!r} that runs Postgres "
                f"(we run as root): {parent} has mode {oct(st.st_mode & 0o777)}",
                hint=f"choose a work root whose parents are world-traversable (e.g. --work-root /tmp), or "
                f"`chmod o+x {parent}`",
            )
