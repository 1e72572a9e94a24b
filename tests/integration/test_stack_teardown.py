"""Nothing is left behind: after a normal stop, after an exception, and after SIGTERM of `harness up`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.config import REPO_ROOT, resolve_config
from harness.stack import start_stack
from tests.integration.conftest import assert_nothing_left, stack_ports, state_ports, wait_for_state

pytestmark = pytest.mark.integration


def test_teardown_leaves_no_process_port_or_directory(work_root: Path) -> None:
    cfg = resolve_config({"work_root": str(work_root)})
    with start_stack(cfg) as stack:
        run_id, run_dir, ports = stack.run_id, stack.run_dir, stack_ports(stack)
        assert run_dir.is_dir()
    assert_nothing_left(run_id, run_dir, ports)


def test_exception_inside_the_block_still_tears_down_and_is_not_hidden(work_root: Path) -> None:
    cfg = resolve_config({"work_root": str(work_root)})
    with pytest.raises(RuntimeError, match="scenario blew up"), start_stack(cfg) as stack:
        run_id, run_dir, ports = stack.run_id, stack.run_dir, stack_ports(stack)
        raise RuntimeError("scenario blew up")
    assert_nothing_left(run_id, run_dir, ports)


def test_sigterm_of_harness_up_tears_everything_down(work_root: Path) -> None:
    up = subprocess.Popen([sys.executable, "-m", "harness.cli", "up", "--work-root", str(work_root)],
                          cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        state = wait_for_state(work_root / "harness-current.json")
        os.kill(up.pid, signal.SIGTERM)
        output = up.communicate(timeout=60)[0].decode()
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
    assert up.returncode == 128 + signal.SIGTERM, output
    assert "prometheus" in output and "Ctrl-C stops the stack" in output
    assert_nothing_left(state["run_id"], Path(state["run_dir"]), state_ports(state))
    assert not (work_root / "harness-current.json").exists()
