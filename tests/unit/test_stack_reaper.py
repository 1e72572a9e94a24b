"""The run's reaper: what a release and a death of the harness each make it do, with `sleep` processes
standing in for services (no services needed)."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.host.runstate import (
    RUN_ENV,
    RunContext,
    parse_run_record,
    pids_of_run,
    process_alive,
    process_start_time,
)
from harness.stack.core.reaper import RELEASE, Reaped, Reaper, reap, released, start_reaper


@pytest.fixture
def run(tmp_path: Path) -> Iterator[tuple[RunContext, subprocess.Popen[bytes]]]:
    """A created run with one recorded, tagged service (a `sleep`), which never outlives the test."""
    ctx = RunContext(tmp_path)
    ctx.create()
    child = subprocess.Popen(["sleep", "60"], env=ctx.env(), start_new_session=True)
    ctx.record_pid("service", child.pid)
    try:
        yield ctx, child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()


def _wait_gone(pid: int, start_time: int | None, timeout: float = 5.0) -> float:
    """Seconds until ``pid`` (started at ``start_time``) is gone; fails after ``timeout``."""
    started = time.monotonic()
    while process_alive(pid, start_time):
        assert time.monotonic() - started < timeout, f"pid {pid} still alive after {timeout} s"
        time.sleep(0.01)
    return time.monotonic() - started


def _ignores_sigint(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            mask = next(int(line.split()[1], 16) for line in fh if line.startswith("SigIgn:"))
    except OSError:
        return False
    return bool(mask & (1 << (signal.SIGINT - 1)))


def _is_ready_reaper(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"harness.stack.core.reaper" in fh.read() and _ignores_sigint(pid)
    except OSError:
        return False


def test_only_a_release_message_means_a_normal_stop() -> None:
    assert released(RELEASE)
    assert not released(b"")
    assert not released(b"rel")


def test_the_record_reads_ports_and_tolerates_records_written_before_them() -> None:
    rec = parse_run_record({"run_id": "r", "owner_pid": 7, "owner_start_time": 9, "pids": {"redis": 11},
                            "start_times": {"11": 12}, "ports": [5000, 5001]})
    assert (rec.run_id, rec.owner_pid, rec.owner_start_time, rec.pids, rec.start_times, rec.ports) == \
        ("r", 7, 9, {"redis": 11}, {"11": 12}, [5000, 5001])
    old = parse_run_record({"run_id": "r", "owner_pid": 7, "pids": {}})
    assert (old.owner_start_time, old.ports) == (None, [])
    with pytest.raises(KeyError):
        parse_run_record({"owner_pid": 7})


def test_the_summary_says_what_was_killed_and_which_ports_stayed_held() -> None:
    assert "killed 2 process(es), its ports are free" in Reaped([1, 2], [], 0.1).summary("r")
    assert "ports still held: [5000]" in Reaped([], [5000], 0.1).summary("r")


def test_reap_kills_the_runs_processes_spares_strangers_and_removes_the_run_dir(tmp_path: Path) -> None:
    run_dir = tmp_path / "harness-r1"
    run_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != RUN_ENV}
    ours = subprocess.Popen(["sleep", "60"], env={**env, RUN_ENV: "r1"}, start_new_session=True)
    stranger = subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    try:
        # The stranger's recorded start time is not its own: a recycled pid, never ours.
        (run_dir / "pids.json").write_text(json.dumps({
            "run_id": "r1", "owner_pid": 1, "pids": {"service": ours.pid, "recycled": stranger.pid},
            "start_times": {str(stranger.pid): 1}, "ports": [held.getsockname()[1], free_port]}))
        done = reap(run_dir, "r1", timeout=0.3)
        assert ours.wait(5) == -signal.SIGKILL
        assert ours.pid in done.killed
        assert stranger.poll() is None
        assert done.held_ports == [held.getsockname()[1]]
        assert not run_dir.exists()
    finally:
        held.close()
        stranger.kill()
        stranger.wait()
        if ours.poll() is None:
            ours.kill()
            ours.wait()


def test_a_released_reaper_exits_and_touches_nothing(run: tuple[RunContext, subprocess.Popen[bytes]]) -> None:
    ctx, child = run
    reaper = start_reaper(ctx)
    # It is a process of the run, and must end too. Its environment shows in /proc only once exec has set it
    # up, a moment after Popen returns (a CI run of 7c50780 looked in that moment).
    deadline = time.monotonic() + 30
    while reaper.pid not in pids_of_run(ctx.run_id):
        assert time.monotonic() < deadline, "the reaper never showed as a process of the run"
        time.sleep(0.01)
    reaper.release(timeout=30)  # generous: a Python start with the reaper's imports, on a loaded machine
    assert reaper.proc.returncode == 0
    assert child.poll() is None
    assert ctx.run_dir.exists()
    assert reaper.pid not in pids_of_run(ctx.run_id)


def test_the_pipe_closing_without_a_release_makes_the_reaper_clean_the_run(
        run: tuple[RunContext, subprocess.Popen[bytes]]) -> None:
    ctx, child = run
    reaper = start_reaper(ctx)
    assert reaper._write_fd is not None
    os.close(reaper._write_fd)  # what the kernel does when the harness dies
    reaper._write_fd = None
    assert child.wait(30) == -signal.SIGKILL  # generous: the reaper may still be importing
    assert reaper.proc.wait(30) == 0
    assert not ctx.run_dir.exists()
    assert "killed 1 process(es)" in (ctx.work_root / "harness-reaper.log").read_text()


def test_the_reaper_is_out_of_reach_of_ctrl_c(run: tuple[RunContext, subprocess.Popen[bytes]]) -> None:
    reaper = start_reaper(run[0])
    try:
        # Ctrl-C signals the terminal's foreground process group: the reaper is in neither our group nor
        # our session, and ignores SIGINT when signalled directly.
        assert os.getpgid(reaper.pid) != os.getpgid(0)
        assert os.getsid(reaper.pid) != os.getsid(0)
        deadline = time.monotonic() + 10
        while not _ignores_sigint(reaper.pid):
            assert time.monotonic() < deadline, "the reaper never set SIGINT to ignored"
            time.sleep(0.02)
        os.kill(reaper.pid, signal.SIGINT)
        assert reaper.proc.poll() is None
    finally:
        reaper.release()
    assert reaper.proc.returncode == 0


OWNER = textwrap.dedent("""
    import signal, subprocess, sys, time
    from pathlib import Path
    # A test run started in the background ignores SIGINT, and a child would inherit that: then the reaper
    # would look ready (SIGINT ignored) before its imports are done. A handler is reset to the default on exec.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from harness.stack.core.reaper import start_reaper
    from harness.host.runstate import RunContext

    ctx = RunContext(Path(sys.argv[1]))
    ctx.create()
    start_reaper(ctx)
    # A child in its own session, and a grandchild that leaves it (as Postgres backends do).
    child = subprocess.Popen(["sh", "-c", "setsid sleep 60 & wait"], env=ctx.env(), start_new_session=True)
    ctx.record_pid("service", child.pid)
    print(ctx.run_id, child.pid, flush=True)
    time.sleep(60)
""")


def _three_sessions_and_a_ready_reaper(run_id: str) -> bool:
    pids = pids_of_run(run_id)
    try:
        sessions = {os.getsid(p) for p in pids}
    except ProcessLookupError:
        return False
    return len(pids) == 3 and len(sessions) == 3 and any(_is_ready_reaper(p) for p in pids)


def test_sigkill_of_the_harness_leaves_no_process_of_the_run(tmp_path: Path) -> None:
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(tmp_path)], stdout=subprocess.PIPE,
                             start_new_session=True)
    try:
        assert owner.stdout is not None
        run_id, child = owner.stdout.readline().decode().split()
        # Generous: on a loaded machine a Python start takes seconds. A stack takes far longer to start than
        # its reaper, so the harness is killed once the reaper is ready (it ignores SIGINT by then).
        # Ready also means the grandchild has left sh's session: between its fork and its setsid() it is
        # already a process of the run, still in sh's session.
        deadline = time.monotonic() + 30
        while not _three_sessions_and_a_ready_reaper(run_id):
            assert time.monotonic() < deadline, pids_of_run(run_id)  # the reaper, sh, and the sleep that left
            time.sleep(0.02)
        victims = {p: process_start_time(p) for p in pids_of_run(run_id)}
        assert int(child) in victims
        assert len({os.getsid(p) for p in victims}) == 3
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(5)
        for pid, start in victims.items():
            _wait_gone(pid, start)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
    assert pids_of_run(run_id) == []
    assert list(tmp_path.glob("harness-2*")) == []


def test_release_of_a_reaper_that_died_early_still_returns(tmp_path: Path) -> None:
    ctx = RunContext(tmp_path)
    ctx.create()
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait()
    reaper = Reaper(proc, write_fd, tmp_path / "harness-reaper.log")
    reaper.release()  # the write fails (no reader); it must neither raise nor hang
    assert reaper.proc.returncode == 3
