"""Every user-facing error of the stack core: missing binary, port taken, exited, too slow."""

import os
import socket
from pathlib import Path

import pytest

from harness.core.errors import HarnessError
from harness.host.runstate import RunContext
from harness.stack.core.binaries import BINARIES, MissingBinary, find_binary
from harness.stack.core.process import ManagedProcess, ServiceExited, ServiceTooSlow
from harness.stack.core.readiness import PortReady


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    run = RunContext(tmp_path)
    run.create()
    return run


def test_missing_binary_names_the_package_and_where_we_looked(tmp_path: Path) -> None:
    with pytest.raises(MissingBinary) as info:
        find_binary("prometheus-redis-exporter", path=str(tmp_path))
    message = str(info.value)
    assert "apt-get install -y prometheus-redis-exporter" in message
    assert str(tmp_path) in message
    assert "Hint:" in message


def test_postgres_binaries_map_to_the_postgresql_package() -> None:
    # Debian keeps them outside PATH, so the versioned bin dirs are searched too.
    assert BINARIES["initdb"].package == "postgresql"
    assert "apt-get install -y postgresql" in str(MissingBinary(BINARIES["initdb"], ["/nowhere"]))
    assert any(d.startswith("/usr/lib/postgresql/") for d in BINARIES["initdb"].extra_dirs)


def test_service_that_exits_at_start_shows_exit_code_and_log(ctx: RunContext) -> None:
    proc = ManagedProcess("flaky", ["sh", "-c", "echo 'FATAL: config is broken' >&2; exit 3"], ctx,
                          ready=PortReady(1), timeout=5)
    with pytest.raises(ServiceExited) as info:
        proc.start()
    message = str(info.value)
    assert "flaky exited (exit code 3) before it was ready" in message
    assert "FATAL: config is broken" in message
    assert "Hint:" in message


def test_service_that_is_too_slow_is_a_different_error(ctx: RunContext) -> None:
    proc = ManagedProcess("sleepy", ["sleep", "30"], ctx, ready=PortReady(1), timeout=0.3)
    try:
        with pytest.raises(ServiceTooSlow) as info:
            proc.start()
        assert not isinstance(info.value, ServiceExited)
        assert "was not ready after 0.3 s" in str(info.value)
        assert "status: running" in str(info.value)
    finally:
        proc.stop(timeout=1)
    assert not proc.running


def test_port_taken_refuses_to_spawn(ctx: RunContext) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = ManagedProcess("redis", ["sleep", "30"], ctx, ready=PortReady(port), timeout=1, port=port)
        with pytest.raises(HarnessError, match=f"port 127.0.0.1:{port} is already taken"):
            proc.spawn()
    assert proc.pid is None


def test_children_carry_the_run_id_and_are_recorded(ctx: RunContext) -> None:
    proc = ManagedProcess("sleeper", ["sleep", "30"], ctx, ready=None, timeout=1)
    proc.start()
    try:
        assert proc.pid is not None
        with open(f"/proc/{proc.pid}/environ", "rb") as fh:
            assert f"HARNESS_RUN_ID={ctx.run_id}".encode() in fh.read().split(b"\0")
        assert os.getpgid(proc.pid) == proc.pid  # its own session, so the group can be killed
        assert str(proc.pid) in (ctx.run_dir / "pids.json").read_text()
    finally:
        proc.stop(timeout=1)
    assert str(proc.pid) not in (ctx.run_dir / "pids.json").read_text()
