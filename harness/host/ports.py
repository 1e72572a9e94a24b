"""Free loopback ports, handed out once per machine so concurrent services never collide.

Two harness processes on one machine (pytest-xdist workers, each with its own stack, or a `harness demo` beside a
test run) must never hand out the same port: both would find it free, and the second service to bind it would die.
Each port handed out is therefore also claimed machine-wide, by binding a Linux abstract socket named after it
and holding that socket for the rest of the process. The kernel drops the claim when the process ends, however it
ends (SIGKILL included), and an abstract socket leaves no file behind.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Collection

from harness.core.errors import HarnessError

HOST = "127.0.0.1"

_lock = threading.Lock()
_claims: list[socket.socket] = []   # held for the process's lifetime: see the module's docstring
CLAIM_PREFIX = "harness-port-"


def bind_claim(name: str) -> socket.socket | None:
    """The abstract socket ``name``, bound: a machine-wide claim until it is closed or its process ends. None when
    a live process, this one included, holds it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(f"\0{name}")
    except OSError:
        sock.close()
        return None
    return sock


def _claim(port: int) -> bool:
    """Claim ``port`` for this process machine-wide; False when a live process, this one included, holds it."""
    sock = bind_claim(f"{CLAIM_PREFIX}{port}")
    if sock is None:
        return False
    _claims.append(sock)
    return True


def allocate_ports(count: int) -> list[int]:
    """``count`` distinct free ports on 127.0.0.1, none handed out before by this or another live process.

    All sockets are held open together while the OS picks, so the ports are distinct even before they are
    claimed; the claim keeps apart two stacks started by one process (e.g. pytest) and those of two processes
    (e.g. two pytest-xdist workers).
    """
    ports: list[int] = []
    held: list[socket.socket] = []
    try:
        with _lock:
            while len(ports) < count:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind((HOST, 0))
                held.append(sock)
                port = sock.getsockname()[1]
                if _claim(port):
                    ports.append(port)
    finally:
        for sock in held:
            sock.close()
    return ports


def allocate_port() -> int:
    return allocate_ports(1)[0]


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # With SO_REUSEADDR, Linux still refuses a port with a listener but accepts TIME_WAIT leftovers,
        # which is exactly what the servers we start will see.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_accepts(port: int, host: str = HOST, timeout: float = 0.2) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def ensure_port_free(port: int, service: str, host: str = HOST) -> None:
    """Fail before spawning rather than let a service die with a bind error buried in its log."""
    if port_is_free(port, host):
        return
    holder = listener_pid(port)
    who = f" by pid {holder}" if holder else ""
    raise HarnessError(
        f"{service}: port {host}:{port} is already taken{who}",
        detail="the service cannot bind its address, so it was not started",
        hint="stop whatever listens there (`ss -ltnp`), or let the harness pick ports itself "
        "(leave the port unset); a dead earlier run is cleaned by `harness down`",
    )


def _listen_inodes() -> dict[int, set[str]]:
    """Local port -> socket inodes of every listening TCP socket (from /proc/net/tcp and tcp6)."""
    out: dict[int, set[str]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as fh:
            next(fh, None)
            for line in fh:
                parts = line.split()
                if len(parts) > 9 and parts[3] == "0A":
                    out.setdefault(int(parts[1].rsplit(":", 1)[1], 16), set()).add(parts[9])
    return out


def listening(ports: Collection[int]) -> list[int]:
    """Those of ``ports`` something listens on. Unlike ``port_is_free`` this ignores another program's
    client connection that happens to use the port as its ephemeral local port."""
    listeners = _listen_inodes()
    return [p for p in ports if p in listeners]


def listener_pid(port: int) -> int | None:
    """The pid listening on ``port`` (best effort via /proc; None when unknown or not permitted)."""
    inodes = _listen_inodes().get(port, set())
    if not inodes:
        return None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        return int(pid)
    return None
