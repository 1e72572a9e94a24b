"""The runner waits for the load generator's first request before its warm-up: a stand-in child process
(no Locust) and a records file written on cue, no services."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.core.clock import RunClock
from harness.core.errors import HarnessError
from harness.load import ConstantArrivalRate, LoadRun


def load_run(tmp_path: Path, code: str) -> LoadRun:
    log = tmp_path / "locust.log"
    log.write_text("starting locust\n")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)  # as run_load starts it
    return LoadRun(proc, ConstantArrivalRate(rate_per_s=10, duration_s=5), tmp_path / "run.records",
                   tmp_path / "run.summary.json", log, RunClock(), None)


def test_returns_once_the_first_request_is_on_disk(tmp_path):
    run = load_run(tmp_path, "import time; time.sleep(30)")
    try:
        t0 = time.monotonic()  # before the timer: its 0.3 s count from no later than this
        threading.Timer(0.3, lambda: (tmp_path / "run.records").write_bytes(b"x")).start()
        waited = run.wait_flowing(timeout=10)
        assert time.monotonic() - t0 >= 0.3 and (tmp_path / "run.records").exists() and waited < 5
    finally:
        run.stop()


def test_an_empty_records_file_is_not_load(tmp_path):
    (tmp_path / "run.records").write_bytes(b"")
    run = load_run(tmp_path, "import time; time.sleep(30)")
    try:
        started = time.monotonic()
        with pytest.raises(HarnessError, match="made no request within 0 s") as err:
            run.wait_flowing(timeout=0.3)
        assert time.monotonic() - started >= 0.3
        assert "starting locust" in str(err.value) and "locust.log" in str(err.value)
    finally:
        run.stop()


def test_a_generator_that_exits_first_is_an_error_with_its_log(tmp_path):
    run = load_run(tmp_path, "raise SystemExit(3)")
    with pytest.raises(HarnessError, match="exited with code 3 before its first request") as err:
        run.wait_flowing(timeout=10)
    assert "starting locust" in str(err.value)
