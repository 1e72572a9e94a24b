"""SIGKILL of the harness leaves nothing behind, with no later command: within 5 s the run's reaper has
killed every process of the run (Postgres running as another user, its backends in sessions of their
own, node_exporter in its own namespaces, Locust), its ports are free and its directory is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.config import REPO_ROOT
from harness.host.ports import listening
from harness.host.proctree import descendants
from harness.host.runstate import (
    pids_of_run,
    process_alive,
    process_start_time,
    read_run_record,
    sweep_dead_runs,
)
from harness.stack.core.reaper import LOG_NAME
from harness.stack.services.exporters import data_volume_unavailable
from tests.integration.conftest import START_TIMEOUT_S, assert_nothing_left, cmdline, state_ports, wait_for_state

pytestmark = pytest.mark.integration

KILL_TO_CLEAN_S = 5.0


@pytest.fixture
def harness_proc(work_root: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Holds the harness process a test starts; whatever the test's outcome, nothing outlives it."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
        sweep_dead_runs(work_root)  # belt and braces when the reaper under test failed


def _run_dir(work_root: Path, timeout: float = START_TIMEOUT_S) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p.parent for p in work_root.glob("harness-2*/pids.json")]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no run directory appeared under {work_root} after {timeout} s")


def _wait(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def _stat_field(pid: int, index: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        return fh.read().decode(errors="replace").rsplit(")", 1)[1].split()[index]


def _snapshot(run_id: str, run_dir: Path) -> dict[int, int]:
    """Every process of the run now (pid -> start time): tagged, recorded, and the recorded ones' trees."""
    record = read_run_record(run_dir)
    assert record is not None, f"no readable pids.json in {run_dir}"
    pids = set(pids_of_run(run_id))
    for pid in record.pids.values():
        pids.add(pid)
        pids.update(descendants(pid))
    out = {}
    for pid in pids:
        start = process_start_time(pid)
        if start is not None:
            out[pid] = start
    return out


def _sigkill_and_wait_clean(harness: subprocess.Popen[bytes], run_id: str, run_dir: Path) -> float:
    """SIGKILL the harness process alone; return the seconds until nothing of its run is left (<= 5)."""
    record = read_run_record(run_dir)
    assert record is not None and record.ports, "the run recorded no ports"
    victims = _snapshot(run_id, run_dir)
    os.kill(harness.pid, signal.SIGKILL)
    killed_at = time.monotonic()

    # "Free" is: nothing listens there. Other stacks share the machine, and one of their client connections
    # may use a freed port as its ephemeral local port; that is not the run holding it.
    def left() -> bool:
        return (any(process_alive(p, s) for p, s in victims.items()) or bool(pids_of_run(run_id))
                or bool(listening(record.ports)) or run_dir.exists())

    while left() and time.monotonic() - killed_at < KILL_TO_CLEAN_S:
        time.sleep(0.01)
    elapsed = time.monotonic() - killed_at
    survivors = {p: cmdline(p) for p, s in victims.items() if process_alive(p, s)}
    reaper_log = run_dir.parent / LOG_NAME
    if survivors:  # say what the reaper did, once it is done
        _wait(lambda: not any(process_alive(p, s) for p, s in victims.items()), 20)
    said = reaper_log.read_text().strip().splitlines()[-1:] if reaper_log.exists() else ["(no reaper log)"]
    assert survivors == {}, f"{len(survivors)} process(es) of the run survived {elapsed:.1f} s after SIGKILL; " \
        f"later, the reaper said: {said[0]}; listening: {listening(record.ports)}"
    assert listening(record.ports) == [], "ports of the run are still listened on"
    assert_nothing_left(run_id, run_dir, [], timeout=0)
    print(f"\nSIGKILL to clean: {elapsed:.2f} s ({len(victims)} processes of run {run_id}); {said[0]}")
    return elapsed


def _assert_hard_cases_present(victims: dict[int, int]) -> None:
    """The run really has processes of another user and, as root, in another PID namespace."""
    uids = {os.stat(f"/proc/{p}").st_uid for p in victims if os.path.exists(f"/proc/{p}")}
    if os.geteuid() == 0:
        assert uids - {0}, "no process of the run runs as the unprivileged Postgres user"
        ours = os.readlink("/proc/self/ns/pid")
        assert any(_ns(p) not in (ours, None) for p in victims), "no process of the run in another PID namespace"


def _ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def test_sigkill_of_harness_up_leaves_nothing_within_5_s(work_root: Path, harness_proc: list) -> None:
    up = subprocess.Popen([sys.executable, "-m", "harness.cli", "up", "--work-root", str(work_root)],
                          cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    harness_proc.append(up)
    state = wait_for_state(work_root / "harness-current.json")
    run_dir = Path(state["run_dir"])
    victims = _snapshot(state["run_id"], run_dir)
    _assert_hard_cases_present(victims)
    assert _sigkill_and_wait_clean(up, state["run_id"], run_dir) <= KILL_TO_CLEAN_S
    assert listening(state_ports(state)) == []


SCENARIO = """
name: sigkill_mid_scenario
description: Long enough to be killed in the middle, with the replica frozen while load runs.
duration: 60m
load: {profile: constant_rate, rate: 10}
faults:
  - {kind: freeze, target: postgres_replica, start: 1m, duration: 50m}
%(fill)s
expect:
  - fires: ReplicationLagHigh
"""


def test_sigkill_of_harness_verify_mid_scenario_leaves_nothing_within_5_s(work_root: Path, tmp_path: Path,
                                                                        harness_proc: list) -> None:
    # Also fill node_exporter's own volume (a tmpfs in its private mount namespace) where the stack has one.
    fill = "  - {kind: fill_disk, start: 1m, duration: 50m, params: {fraction: 0.5}}" \
        if data_volume_unavailable() is None else ""
    scenario = tmp_path / "sigkill_mid_scenario.yaml"
    scenario.write_text(SCENARIO % {"fill": fill})
    env = {**os.environ, "HARNESS_WORK_ROOT": str(work_root), "HARNESS_REPORTS_DIR": str(tmp_path / "reports")}
    output = tmp_path / "verify.out"
    with output.open("wb") as out:
        verify = subprocess.Popen([sys.executable, "-m", "harness.cli", "verify", str(scenario)], cwd=REPO_ROOT,
                                  env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    harness_proc.append(verify)
    run_dir = _run_dir(work_root)
    run_id = run_dir.name.removeprefix("harness-")

    # Mid-scenario: Locust sends load and the replica's postmaster is frozen by the fault.
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        assert verify.poll() is None, \
            f"harness verify ended (code {verify.returncode}) before the fault:\n{output.read_text()[-3000:]}"
        assert time.monotonic() < deadline, "the scenario never reached its fault with load running"
        load = [p for p in pids_of_run(run_id) if "harness.load.runner" in (cmdline(p) or "")]
        if load and _replica_frozen(run_dir):
            break
        time.sleep(0.1)
    victims = _snapshot(run_id, run_dir)
    _assert_hard_cases_present(victims)
    assert _sigkill_and_wait_clean(verify, run_id, run_dir) <= KILL_TO_CLEAN_S


def _replica_frozen(run_dir: Path) -> bool:
    record = read_run_record(run_dir)
    replica = record.pids.get("postgres_replica") if record else None
    try:
        return replica is not None and _stat_field(replica, 0) == "T"
    except OSError:
        return False
