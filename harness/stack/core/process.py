"""Supervised child processes: spawned in their own session, logged, tagged with the run id, awaited
with a readiness strategy, stopped by process group (never by name)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.core.errors import HarnessError
from harness.host.ports import ensure_port_free
from harness.host.proctree import signal_tree
from harness.host.runstate import RunContext
from harness.stack.core.readiness import ReadyCheck, backoff_delays

LOG_TAIL_LINES = 15


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            text = fh.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    kept = text.splitlines()[-lines:]
    return "\n".join(f"  | {line}" for line in kept) if kept else "  | (log is empty)"


def _hint_from_log(log_tail: str, default: str) -> str:
    low = log_tail.lower()
    if "address already in use" in low or ("bind" in low and "in use" in low):
        return "its port was taken by another process between allocation and start; run again, or find the " \
               "holder with `ss -ltnp`"
    if "permission denied" in low:
        return "a file or directory is not accessible to the user the service runs as; check the run dir " \
               "ownership (services that refuse root run as the `harness` user)"
    return default


class ServiceExited(HarnessError):
    """The service's process ended before it became ready."""

    def __init__(self, service: str, awaited: str, returncode: int | None, log_path: Path, hint: str) -> None:
        self.service = service
        self.returncode = returncode
        log_tail = tail(log_path)
        how = f"exit code {returncode}" if returncode is None or returncode >= 0 else f"signal {-returncode}"
        super().__init__(
            f"{service} exited ({how}) before it was ready (awaited: {awaited})",
            detail=f"last lines of {log_path}:\n{log_tail}",
            hint=_hint_from_log(log_tail, hint),
        )


class ServiceTooSlow(HarnessError):
    """The service kept running but was not ready in time."""

    def __init__(self, service: str, awaited: str, timeout: float, observed: str | None, pid: int | None,
                 log_path: Path, hint: str) -> None:
        self.service = service
        super().__init__(
            f"{service} was not ready after {timeout:.1f} s (awaited: {awaited})",
            detail=f"status: running (pid {pid}); last observation: {observed or 'none'}\n"
            f"last lines of {log_path}:\n{tail(log_path)}",
            hint=hint,
        )


class Cancelled(HarnessError):
    pass


@dataclass(frozen=True)
class RunAs:
    """Unprivileged identity for services that refuse root (Postgres)."""

    user: str
    uid: int
    gid: int


class ManagedProcess:
    """One service process. Implements the ProcessControl protocol of contract C."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        ctx: RunContext,
        *,
        ready: ReadyCheck | None,
        timeout: float,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        run_as: RunAs | None = None,
        port: int | None = None,
        stop_signal: int = signal.SIGTERM,
        hint: str = "",
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.ctx = ctx
        self.ready = ready
        self.timeout = timeout
        self.env = env or {}
        self.cwd = cwd
        self.run_as = run_as
        self.port = port
        self.stop_signal = stop_signal
        self.hint = hint or f"see the full log at {ctx.logs_dir / (name + '.log')}"
        self.log_path = ctx.logs_dir / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    # -- ProcessControl ---------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def start(self) -> None:
        """Spawn (same argv and port as before) and wait until ready."""
        self.spawn()
        self.wait_ready()

    def signal(self, sig: int) -> None:
        """Signal the process group and every descendant: SIGSTOP must freeze Postgres backends too, and
        they run in sessions of their own, outside the postmaster's group."""
        if self._proc is None or self._proc.poll() is not None:
            raise HarnessError(f"{self.name} is not running", hint="start it first (process(name).start())")
        signal_tree(self._proc.pid, sig, pgid=self._proc.pid)  # spawned with a session (and group) of its own

    def stop(self, timeout: float = 10.0) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                signal_tree(proc.pid, signal.SIGCONT, pgid=proc.pid)  # a frozen process cannot act on SIGTERM
                os.killpg(proc.pid, self.stop_signal)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self._reap_group(proc)

    def kill(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._reap_group(proc)

    # -- internals --------------------------------------------------------------------------------
    def _reap_group(self, proc: subprocess.Popen[bytes]) -> None:
        # Kill stragglers of the group (uvicorn workers) and descendants in sessions of their own (Postgres
        # backends), even when the leader already exited.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            signal_tree(proc.pid, signal.SIGKILL, pgid=proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _group_alive(proc.pid):
            time.sleep(0.01)
        self.ctx.record_pid(self.name, None)

    def spawn(self) -> None:
        with self._lock:
            if self.running:
                raise HarnessError(f"{self.name} is already running (pid {self.pid})")
            if self.ctx.cancelled.is_set():
                raise Cancelled(f"{self.name}: start cancelled")
            if self.port is not None:
                ensure_port_free(self.port, self.name)
            log_fh = self.log_path.open("ab")
            try:
                log_fh.write(f"--- harness: starting {self.name}: {' '.join(self.argv)}\n".encode())
                log_fh.flush()
                kwargs: dict[str, object] = {}
                if self.run_as is not None:
                    kwargs.update(user=self.run_as.uid, group=self.run_as.gid, extra_groups=[])
                self._proc = subprocess.Popen(  # type: ignore[call-overload]
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log_fh,
                    stderr=subprocess.STDOUT,
                    env=self.ctx.env(self.env),
                    cwd=str(self.cwd) if self.cwd else None,
                    start_new_session=True,
                    **kwargs,
                )
            except FileNotFoundError as exc:
                raise HarnessError(f"{self.name}: cannot execute {self.argv[0]}: {exc.strerror}") from exc
            finally:
                log_fh.close()
            assert self._proc is not None
            self.ctx.record_pid(self.name, self._proc.pid)
            if self.port is not None:
                self.ctx.record_ports([self.port])

    def wait_ready(self, timeout: float | None = None) -> None:
        timeout = self.timeout if timeout is None else timeout
        if self.ready is None:
            return
        deadline = time.monotonic() + timeout
        delay = backoff_delays()
        observed: str | None = None
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise ServiceExited(self.name, self.ready.description, self._proc.returncode, self.log_path,
                                    self.hint)
            observed = self.ready.check()
            if observed is None:
                return
            if self._proc is not None and self._proc.poll() is not None:
                continue  # report the exit, not the refused connection it caused
            if time.monotonic() >= deadline:
                raise ServiceTooSlow(self.name, self.ready.description, timeout, observed, self.pid,
                                     self.log_path, self.hint)
            if self.ctx.cancelled.wait(delay()):
                raise Cancelled(f"{self.name}: start cancelled while waiting for {self.ready.description}")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # killpg(…, 0) also succeeds while members are zombies waiting for a parent that is gone; those
    # hold no ports, so look for a live member before saying yes.
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                fields = fh.read().decode(errors="replace").rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def run_oneshot(name: str, argv: Sequence[str], ctx: RunContext, *, timeout: float,
                env: dict[str, str] | None = None, cwd: Path | None = None, run_as: RunAs | None = None,
                hint: str = "") -> None:
    """Run a setup command (initdb, pg_basebackup, data loading) to completion, logged like a service."""
    proc = ManagedProcess(name, argv, ctx, ready=None, timeout=timeout, env=env, cwd=cwd, run_as=run_as,
                          hint=hint)
    proc.spawn()
    assert proc._proc is not None
    deadline = time.monotonic() + timeout
    try:
        while proc._proc.poll() is None:
            if time.monotonic() >= deadline:
                raise ServiceTooSlow(name, "the command to finish", timeout, None, proc.pid, proc.log_path,
                                     proc.hint)
            if ctx.cancelled.wait(0.02):
                raise Cancelled(f"{name}: cancelled")
        if proc._proc.returncode != 0:
            log_tail = tail(proc.log_path)
            raise HarnessError(
                f"{name} failed (exit code {proc._proc.returncode}): {' '.join(argv)}",
                detail=f"last lines of {proc.log_path}:\n{log_tail}",
                hint=_hint_from_log(log_tail, proc.hint),
            )
    finally:
        proc.kill()
