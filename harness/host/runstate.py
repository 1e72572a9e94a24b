"""Per-run directory, the pids.json record of what a run started, and the sweep of dead runs.

Every child carries ``HARNESS_RUN_ID`` in its environment. When the harness dies, even by SIGKILL, the
run's reaper (``harness.stack.core.reaper``) kills its children and removes its directory. Should that
fail too, the next ``harness up``/``harness down`` finds ``pids.json`` files whose owner is gone and kills,
by process group, only processes that still carry that run id (a recycled pid that belongs to someone else
is never touched).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.host.proctree import signal_tree

log = logging.getLogger("harness.stack")

RUN_ENV = "HARNESS_RUN_ID"
RUN_DIR_PREFIX = "harness-"
PIDS_FILE = "pids.json"


def new_run_id() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def process_start_time(pid: int) -> int | None:
    """Kernel start time of ``pid`` (clock ticks since boot): tells a live owner from a recycled pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode(errors="replace")
    except OSError:
        return None
    # The command name may contain spaces and parentheses; fields resume after the last ')'.
    fields = raw.rsplit(")", 1)[1].split()
    return int(fields[19])


def process_alive(pid: int, start_time: int | None = None) -> bool:
    current = process_start_time(pid)
    if current is None:
        return False
    if _is_zombie(pid):
        return False
    return start_time is None or current == start_time


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().decode(errors="replace").rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def process_run_id(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            env = fh.read().split(b"\0")
    except OSError:
        return None
    prefix = f"{RUN_ENV}=".encode()
    for item in env:
        if item.startswith(prefix):
            return item[len(prefix):].decode(errors="replace")
    return None


def pids_of_run(run_id: str) -> list[int]:
    """Every live process carrying ``HARNESS_RUN_ID=run_id`` (root sees all; others see their own)."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid() and process_run_id(int(name)) == run_id \
                and not _is_zombie(int(name)):
            out.append(int(name))
    return out


class RunContext:
    """What every service of one run shares: id, directory, log dir, the pid record, a cancel flag."""

    def __init__(self, work_root: Path, run_id: str | None = None) -> None:
        self.run_id = run_id or new_run_id()
        self.work_root = Path(work_root)
        self.run_dir = self.work_root / f"{RUN_DIR_PREFIX}{self.run_id}"
        self.logs_dir = self.run_dir / "logs"
        self.cancelled = threading.Event()
        self._lock = threading.Lock()
        self._pids: dict[str, int] = {}
        self._start_times: dict[str, int | None] = {}
        self._ports: list[int] = []
        self.owner_pid = os.getpid()

    def create(self) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=False)
        # Postgres runs as an unprivileged user when we are root; it must be able to traverse the run dir.
        os.chmod(self.run_dir, 0o755)
        os.chmod(self.logs_dir, 0o755)
        self._write()

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env[RUN_ENV] = self.run_id
        env.update(extra or {})
        return env

    def record_pid(self, key: str, pid: int | None) -> None:
        with self._lock:
            if pid is None:
                self._pids.pop(key, None)
                self._start_times.pop(key, None)
            else:
                self._pids[key] = pid
                self._start_times[key] = process_start_time(pid)
            self._write()

    def record_ports(self, ports: Collection[int]) -> None:
        """Add loopback ports a started service binds: the reaper waits until nothing listens there."""
        with self._lock:
            self._ports = sorted({*self._ports, *ports})
            self._write()

    def set_owner(self, pid: int) -> None:
        with self._lock:
            self.owner_pid = pid
            self._write()

    def _write(self) -> None:
        data: dict[str, Any] = {
            "run_id": self.run_id,
            "owner_pid": self.owner_pid,
            "owner_start_time": process_start_time(self.owner_pid),
            "pids": dict(self._pids),
            # Some services (redis-server) overwrite their environment with their process title, so the
            # run id tag cannot be read back; the kernel start time still proves the pid is ours.
            "start_times": {str(self._pids[k]): t for k, t in self._start_times.items() if t is not None},
            "ports": list(self._ports),
        }
        path = self.run_dir / PIDS_FILE
        tmp = path.with_suffix(".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.write_text(json.dumps(data, indent=1))
            os.replace(tmp, path)

    def remove(self) -> None:
        shutil.rmtree(self.run_dir, ignore_errors=True)


@dataclass(frozen=True)
class RunRecord:
    """What ``pids.json`` says about one run."""

    run_id: str
    owner_pid: int
    owner_start_time: int | None = None
    pids: dict[str, int] = field(default_factory=dict)  # service name -> pid
    start_times: dict[str, int] = field(default_factory=dict)  # str(pid) -> kernel start time
    ports: list[int] = field(default_factory=list)


def parse_run_record(data: Any) -> RunRecord:
    """The record in a decoded ``pids.json``; ValueError, KeyError or TypeError when it is not one."""
    owner_start = data.get("owner_start_time")
    return RunRecord(
        run_id=str(data["run_id"]),
        owner_pid=int(data["owner_pid"]),
        owner_start_time=int(owner_start) if owner_start is not None else None,
        pids={str(k): int(v) for k, v in data.get("pids", {}).items()},
        start_times={str(k): int(v) for k, v in data.get("start_times", {}).items()},
        ports=[int(p) for p in data.get("ports", [])],
    )


def read_run_record(run_dir: Path) -> RunRecord | None:
    """The run's record, or None when its ``pids.json`` is missing or unreadable (logged)."""
    path = Path(run_dir) / PIDS_FILE
    try:
        return parse_run_record(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return None


def kill_run_processes(run_id: str, pids: list[int], start_times: dict[str, int] | None = None, *,
                       spare: Collection[int] = ()) -> list[int]:
    """SIGKILL the process groups of ``pids`` that are provably ours (they carry ``run_id``, or have the
    start time recorded when we spawned them), then any other process still tagged with the run, except
    the pids in ``spare`` (the run's reaper, while the harness cleans up itself)."""
    killed: list[int] = []
    start_times = start_times or {}
    for pid in pids:
        recorded = start_times.get(str(pid))
        ours = process_run_id(pid) == run_id or (recorded is not None and process_alive(pid, recorded))
        if not ours:
            continue  # gone, or a recycled pid that belongs to someone else
        with contextlib.suppress(ProcessLookupError, PermissionError):
            killed += signal_tree(pid, signal.SIGKILL, pgid=os.getpgid(pid))
    for pid in pids_of_run(run_id):
        if pid in spare:
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(process_alive(p) for p in killed):
        time.sleep(0.02)
    return killed


def sweep_dead_runs(work_root: Path) -> list[str]:
    """Clean every run under ``work_root`` whose owner process is gone. Returns the swept run ids."""
    swept = []
    for pids_file in sorted(Path(work_root).glob(f"{RUN_DIR_PREFIX}*/{PIDS_FILE}")):
        record = read_run_record(pids_file.parent)
        if record is None or process_alive(record.owner_pid, record.owner_start_time):
            continue
        killed = kill_run_processes(record.run_id, list(record.pids.values()), record.start_times)
        shutil.rmtree(pids_file.parent, ignore_errors=True)
        log.info("swept dead run %s: killed %d process(es), removed %s", record.run_id, len(killed),
                 pids_file.parent)
        swept.append(record.run_id)
    return swept
