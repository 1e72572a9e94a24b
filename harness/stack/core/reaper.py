"""The run's reaper: a small process that cleans up after the harness when the harness dies, however it
dies (testcontainers' Ryuk does the same for containers).

``start_reaper(ctx)`` starts ``python -m harness.stack.core.reaper`` as soon as the run directory exists,
before any service. The harness keeps the only write end of a pipe whose read end the reaper blocks on;
the write end is close-on-exec, so no service inherits it. The kernel closes it when the harness exits,
SIGKILL included, and the reaper reads EOF. It then kills every process of the run (the recorded pids'
process groups and trees, since Postgres backends setsid() out of the postmaster's group, and every
process tagged with the run id, which reaches Locust and processes started as another user or in another
namespace), waits until the run's ports are free and removes the run directory. A normal stop writes
``RELEASE`` first, after the harness cleaned up itself, and the reaper exits touching nothing.

Why not the kernel's parent-death signal (PR_SET_PDEATHSIG): it is cleared when a child changes
credentials (Postgres runs as the ``harness`` user) or execs a setuid binary; it fires when the parent
*thread* ends, and services are started from worker threads that end right after the start; and
grandchildren (backends, Locust workers, the exporter inside its PID namespace) would not have it.

The reaper runs in a session of its own and ignores SIGINT and SIGHUP: Ctrl-C in a terminal signals the
harness's foreground process group, and the harness's own orderly cleanup must run first (it then
releases the reaper). ``harness down`` and the dead-run sweep stay, for a reaper that was itself killed.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.host.ports import listening
from harness.host.runstate import RUN_DIR_PREFIX, RunContext, kill_run_processes, pids_of_run, read_run_record

log = logging.getLogger("harness.stack")

RELEASE = b"release\n"
LOG_NAME = f"{RUN_DIR_PREFIX}reaper.log"  # in the work root: the run directory is what the reaper removes
# Killing is immediate; the budget covers processes slow to be reaped and ports slow to close.
REAP_TIMEOUT_S = 4.0


def released(received: bytes) -> bool:
    """Did the harness stop normally (it wrote RELEASE before closing), rather than die?"""
    return RELEASE in received


@dataclass(frozen=True)
class Reaped:
    """What one reap did: pids killed, ports still held at the end, seconds it took."""

    killed: list[int] = field(default_factory=list)
    held_ports: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self, run_id: str) -> str:
        ports = f"ports still held: {self.held_ports}" if self.held_ports else "its ports are free"
        return (f"run {run_id}: the harness died; killed {len(self.killed)} process(es), {ports}, removed the "
                f"run directory, in {self.seconds:.2f} s")


def reap(run_dir: Path, run_id: str, *, timeout: float = REAP_TIMEOUT_S) -> Reaped:
    """Kill every process of the run, wait (bounded) for its ports to be free, remove its directory."""
    started = time.monotonic()
    deadline = started + timeout
    record = read_run_record(run_dir)
    pids = [p for p in (record.pids.values() if record else ()) if p != os.getpid()]
    killed = kill_run_processes(run_id, pids, record.start_times if record else None)
    # A process forked while we were killing (a postmaster starting a backend) carries the tag too.
    while pids_of_run(run_id) and time.monotonic() < deadline:
        killed += kill_run_processes(run_id, [])
    ports = record.ports if record else []
    while listening(ports) and time.monotonic() < deadline:
        time.sleep(0.02)
    held = listening(ports)
    shutil.rmtree(run_dir, ignore_errors=True)
    return Reaped(killed=sorted(set(killed)), held_ports=held, seconds=time.monotonic() - started)


class Reaper:
    """The harness's handle on its reaper: the write end of the pipe, and the process."""

    def __init__(self, proc: subprocess.Popen[bytes], write_fd: int, log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path
        self._write_fd: int | None = write_fd

    @property
    def pid(self) -> int:
        return self.proc.pid

    def release(self, timeout: float = 5.0) -> None:
        """The harness cleaned up itself: let the reaper exit without touching anything, and wait for it."""
        if self.proc.poll() is not None and self._write_fd is not None:
            log.warning("the reaper (pid %d) had exited with code %s before the stack stopped, so a SIGKILL of "
                        "the harness would have left processes behind; see %s", self.pid, self.proc.returncode,
                        self.log_path)
        fd, self._write_fd = self._write_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):  # a reaper that is gone cannot read it
                os.write(fd, RELEASE)
            os.close(fd)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("the reaper (pid %d) did not exit %.0f s after its release; killing it", self.pid, timeout)
            self.proc.kill()
            self.proc.wait()


def start_reaper(ctx: RunContext) -> Reaper:
    """Start the reaper of ``ctx``'s run. It inherits only the read end; the harness keeps the write end."""
    read_fd, write_fd = os.pipe()  # both close-on-exec: no other child of the harness can hold the write end
    log_path = ctx.work_root / LOG_NAME
    try:
        with log_path.open("ab") as log_fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "harness.stack.core.reaper", "--fd", str(read_fd), "--run-dir",
                 str(ctx.run_dir), "--run-id", ctx.run_id],
                pass_fds=(read_fd,), stdin=subprocess.DEVNULL, stdout=log_fh, stderr=subprocess.STDOUT,
                env=ctx.env(), start_new_session=True)
    except BaseException:
        os.close(write_fd)
        raise
    finally:
        os.close(read_fd)
    return Reaper(proc, write_fd, log_path)


def _read_until_eof(fd: int) -> bytes:
    received = b""
    while chunk := os.read(fd, 64):
        received += chunk
    return received


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness.stack.core.reaper")
    p.add_argument("--fd", type=int, required=True, help="read end of the pipe whose write end the harness holds")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--run-id", required=True)
    args = p.parse_args(argv)
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    if released(_read_until_eof(args.fd)):
        return 0
    done = reap(Path(args.run_dir), args.run_id)
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} reaper pid {os.getpid()}: {done.summary(args.run_id)}", flush=True)
    return 0 if not done.held_ports else 1


if __name__ == "__main__":
    sys.exit(main())
