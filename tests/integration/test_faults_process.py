"""Process faults against real child processes: a parent with a child, like a postmaster and a backend."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.core.clock import RunClock
from harness.core.timeline import FAULT_END, FAULT_START, Timeline
from harness.faults import Faults

pytestmark = pytest.mark.integration

# A parent that starts one child and then idles; both in one new session (their own process group).
FAMILY = "import subprocess, time; subprocess.Popen(['sleep', '120']); time.sleep(120)"


def proc_state(pid: int) -> str | None:
    """The one-letter state from /proc (R, S, T for stopped, Z), or None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2]


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat[stat.rfind(")") + 2:].split()[1]) == pid:
                    out.append(int(entry.name))
    return out


def wait_for(cond, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


class LocalProcess:
    """What stack.process(name) gives (contract C), for one plain child process group."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        assert self.popen is not None
        self.popen.send_signal(sig)

    def start(self) -> None:
        self.popen = subprocess.Popen(self.argv, start_new_session=True)
        self.starts += 1
        wait_for(lambda: children(self.popen.pid) != [])  # "ready" = the child exists

    def stop(self, timeout: float = 10.0) -> None:
        if self.running:
            assert self.popen is not None
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout)

    def kill(self) -> None:
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)


class Target:
    def __init__(self, proc: LocalProcess) -> None:
        self.clock = RunClock()
        self.timeline = Timeline()
        self.urls: dict[str, str] = {}
        self.proxies: dict[str, tuple[str, str]] = {}
        self.services = {"worker": proc}
        self._proc = proc

    def process(self, name: str) -> LocalProcess:
        return self.services[name]

    def postgres_dsn(self, role: str, via_proxy: bool = False) -> str:
        raise NotImplementedError

    def redis_url(self, via_proxy: bool = False) -> str:
        raise NotImplementedError


@pytest.fixture
def target():
    proc = LocalProcess([sys.executable, "-c", FAMILY])
    proc.start()
    tgt = Target(proc)
    try:
        yield tgt
    finally:
        if proc.popen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.popen.pid, signal.SIGCONT)
            proc.kill()


def test_freeze_stops_the_whole_group_and_thaws_it(target):
    proc = target.process("worker")
    parent = proc.pid
    (child,) = children(parent)
    with Faults(target).freeze("worker"):
        wait_for(lambda: proc_state(parent) == "T" and proc_state(child) == "T")
    wait_for(lambda: proc_state(parent) == "S" and proc_state(child) == "S")
    assert proc.pid == parent and proc.starts == 1
    start, end = target.timeline.events(FAULT_START)[0], target.timeline.events(FAULT_END)[0]
    assert start.data["kind"] == "freeze" and start.data["pid"] == parent and end.data["resumed"] is True
    assert 0 <= start.t < end.t


def test_crash_kills_parent_and_child_then_restarts(target):
    proc = target.process("worker")
    parent = proc.pid
    (child,) = children(parent)
    with Faults(target).crash("worker"):
        assert not proc.running
        wait_for(lambda: proc_state(child) in (None, "Z"))
    assert proc.running and proc.pid != parent and proc.starts == 2
    assert target.timeline.events(FAULT_END)[0].data["restarted"] is True


def test_scheduled_stop_runs_for_its_duration(target):
    proc = target.process("worker")
    faults = Faults(target)
    sched = faults.schedule(faults.stop("worker", timeout=5), start=0.05, duration=0.3)
    wait_for(lambda: not proc.running)
    sched.join(10)
    assert proc.running and proc.starts == 2
    start, end = target.timeline.events(FAULT_START)[0], target.timeline.events(FAULT_END)[0]
    assert end.data["undo_started_t"] - start.t == pytest.approx(0.3, abs=0.1)


def test_restart_gives_a_new_process_at_once(target):
    proc = target.process("worker")
    old = proc.pid
    Faults(target).restart("worker").start()
    assert proc.running and proc.pid != old and proc_state(old) in (None, "Z")


def test_undo_all_thaws_a_frozen_group_after_a_failing_scenario(target):
    proc = target.process("worker")
    faults = Faults(target)
    with pytest.raises(AssertionError), faults:
        faults.freeze("worker").start()
        wait_for(lambda: proc_state(proc.pid) == "T")
        raise AssertionError("scenario failed while frozen")
    wait_for(lambda: proc_state(proc.pid) == "S")
