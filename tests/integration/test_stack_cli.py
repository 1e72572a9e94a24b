"""`harness up` killed with SIGKILL is cleaned by `harness down`; detached mode with status and down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.config import REPO_ROOT
from harness.host.runstate import pids_of_run
from tests.integration.conftest import assert_nothing_left, cmdline, state_ports, wait_for_state

pytestmark = pytest.mark.integration


def _harness(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_sigkill_of_harness_up_and_its_reaper_then_harness_down_cleans_up(work_root: Path) -> None:
    up = subprocess.Popen([sys.executable, "-m", "harness.cli", "up", "--work-root", str(work_root)],
                          cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        state = wait_for_state(work_root / "harness-current.json")
        # The reaper cleans up after a SIGKILL of the harness (test_stack_sigkill); here it is killed first,
        # so `harness down` must do it.
        reapers = [p for p in pids_of_run(state["run_id"]) if "harness.stack.core.reaper" in (cmdline(p) or "")]
        assert len(reapers) == 1, pids_of_run(state["run_id"])
        os.kill(reapers[0], signal.SIGKILL)
    finally:
        up.kill()
        up.wait()
    # The services live in their own sessions, so they outlive the killed harness until swept.
    assert pids_of_run(state["run_id"]) != []
    down = _harness("down", "--work-root", str(work_root))
    assert down.returncode == 0, down.stderr
    assert f"cleaned up dead run {state['run_id']}" in down.stdout
    assert_nothing_left(state["run_id"], Path(state["run_dir"]), state_ports(state))


def test_detached_stack_status_and_down(work_root: Path) -> None:
    up = _harness("up", "--detach", "--work-root", str(work_root))
    assert up.returncode == 0, up.stderr + up.stdout
    assert "detached (supervisor pid" in up.stdout
    state = wait_for_state(work_root / "harness-current.json", timeout=5)
    try:
        status = _harness("status", "--work-root", str(work_root))
        assert status.returncode == 0, status.stdout
        assert "prometheus" in status.stdout and "healthy" in status.stdout
        assert "grafana" in status.stdout
    finally:
        down = _harness("down", "--work-root", str(work_root))
    assert down.returncode == 0, down.stderr
    assert f"stopped run {state['run_id']}" in down.stdout
    assert_nothing_left(state["run_id"], Path(state["run_dir"]), state_ports(state))
    assert not os.path.exists(work_root / "harness-current.json")
    after = _harness("status", "--work-root", str(work_root))
    assert after.returncode == 1 and "no stack is running" in after.stdout
