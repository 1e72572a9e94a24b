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
