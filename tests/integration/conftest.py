"""Shared fixtures for integration tests: one local stack for the whole session, and leak checks."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.config import resolve_config
from harness.host.ports import listener_pid, port_is_free
from harness.host.runstate import pids_of_run
from harness.stack import Stack, start_stack


@pytest.fixture(scope="session")
def local_stack() -> Iterator[Stack]:
    """The full local stack, started once (about 7 s) for every integration test that asks for it."""
    with start_stack(resolve_config({"backend": "local"})) as stack:
        yield stack


@pytest.fixture
def work_root() -> Iterator[Path]:
    """A private work root. Not pytest's tmp_path: its 0700 parents keep the unprivileged Postgres user out."""
    path = Path(tempfile.mkdtemp(prefix="stack-test-root-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def stack_ports(stack: Stack) -> list[int]:
    ports = [s.port for s in stack.services.values() if s.port]
    ports += [int(listen.rsplit(":", 1)[1]) for listen, _ in stack.proxies.values()]
    return ports


def state_ports(state: dict[str, Any]) -> list[int]:
    ports = [int(s["port"]) for s in state["services"].values() if s.get("port")]
    ports += [int(listen.rsplit(":", 1)[1]) for listen, _ in state["proxies"].values()]
    return ports


def assert_nothing_left(run_id: str, run_dir: Path, ports: list[int], timeout: float = 5.0) -> None:
    """No process tagged with the run, no port it bound still held, no run directory."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (pids_of_run(run_id) or not all(port_is_free(p) for p in ports)):
        time.sleep(0.05)
    assert pids_of_run(run_id) == [], f"processes of run {run_id} survived"
    held = {p: _describe(listener_pid(p)) for p in ports if not port_is_free(p)}
    assert held == {}, f"ports of the run are still bound (port: holder pid): {held}"
    assert not run_dir.exists(), f"{run_dir} was not removed"


# Generous: other stacks share the machine's two cores, and under that load a start takes minutes.
START_TIMEOUT_S = 300.0


def wait_for_state(path: Path, timeout: float = START_TIMEOUT_S) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            state = None
        if state and state.get("status") == "ready":
            return state
        assert not (state and state.get("status") == "failed"), state
        time.sleep(0.1)
    raise AssertionError(f"no ready state in {path} after {timeout} s")


def cmdline(pid: int) -> str | None:
    """The command line of ``pid``, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None


def _describe(pid: int | None) -> str:
    if pid is None:
        return "unknown holder"
    line = cmdline(pid)
    return f"pid {pid} (gone)" if line is None else f"pid {pid}: {line[:200]}"
