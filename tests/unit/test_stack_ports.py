import socket

import pytest

from harness.core.errors import HarnessError
from harness.host.ports import allocate_ports, ensure_port_free, port_is_free


def test_ports_are_distinct_and_free() -> None:
    ports = allocate_ports(20)
    assert len(set(ports)) == 20
    assert all(port_is_free(p) for p in ports)


def test_ports_are_never_handed_out_twice_in_one_process() -> None:
    first = set(allocate_ports(10))
    second = set(allocate_ports(10))
    assert not first & second


def test_taken_port_is_reported_with_port_and_holder() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not port_is_free(port)
        with pytest.raises(HarnessError) as info:
            ensure_port_free(port, "redis")
    message = str(info.value)
    assert f"127.0.0.1:{port} is already taken" in message
    assert "redis" in message
    assert "Hint:" in message


def test_ports_claimed_by_another_live_process_are_not_handed_out_and_are_freed_by_its_death() -> None:
    import signal
    import subprocess
    import sys

    from harness.host import ports as ports_mod

    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from harness.host.ports import allocate_ports; "
         "print(' '.join(map(str, allocate_ports(30))), flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        theirs = [int(p) for p in child.stdout.readline().split()]
        assert len(theirs) == 30
        assert not any(ports_mod._claim(p) for p in theirs)   # held by the live child
        assert not set(allocate_ports(200)) & set(theirs)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert all(ports_mod._claim(p) for p in theirs)   # the kernel dropped the claims with the process
