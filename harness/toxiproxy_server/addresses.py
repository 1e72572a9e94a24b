"""Listen addresses the way Go's ``net.Listen("tcp", addr)`` parses, resolves, binds and reports them.

Error texts follow Go's, since the real server returns them verbatim in its 500 bodies.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from dataclasses import dataclass


class AddressError(ValueError):
    """An address Go would refuse; ``str()`` is Go's message without the ``listen tcp:`` prefix."""


class BindError(Exception):
    """Binding failed; ``str()`` is Go's ``listen tcp A: bind: reason``."""


def split_host_port(addr: str) -> tuple[str, str]:
    """Go's net.SplitHostPort."""

    def fail(reason: str) -> AddressError:
        return AddressError(f"address {addr}: {reason}")

    if addr.startswith("["):
        end = addr.find("]")
        if end < 0:
            raise fail("missing ']' in address")
        host, rest = addr[1:end], addr[end + 1 :]
        if not rest:
            raise fail("missing port in address")
        if not rest.startswith(":"):
            raise fail("missing port in address")
        port = rest[1:]
    else:
        colon = addr.rfind(":")
        if colon < 0:
            raise fail("missing port in address")
        host, port = addr[:colon], addr[colon + 1 :]
        if ":" in host:
            raise fail("too many colons in address")
    if "[" in port or "]" in port:
        raise fail("unexpected ']' in address")
    return host, port


def _port_number(port: str) -> int:
    if port == "":
        return 0
    if port.isdigit():
        number = int(port)
        if number > 65535:
            raise AddressError(f"address {port}: invalid port")
        return number
    try:
        return socket.getservbyname(port, "tcp")
    except OSError:
        raise AddressError(f"lookup tcp/{port}: unknown port") from None


@dataclass(frozen=True)
class ListenAddress:
    """A resolved listen address: an IP literal and a port (0 = any free port)."""

    family: int
    host: str
    port: int

    def display(self, port: int | None = None) -> str:
        shown = self.port if port is None else port
        if self.family == socket.AF_INET6:
            return f"[{self.host}]:{shown}"
        return f"{self.host}:{shown}"


# The host an empty listen address ("", as when a client omits `listen`) or an empty host (":8080") gets.
# Go's net.Listen, and so the real server, binds every interface for it and reports "[::]:<port>". This
# project never binds beyond loopback (DESIGN.md, "Loopback only"), so here it binds 127.0.0.1 and reports
# "127.0.0.1:<port>", which is also an address a client on this machine can dial. Binding everywhere takes
# an explicit "0.0.0.0:<port>" from the caller.
DEFAULT_LISTEN_HOST = "127.0.0.1"


async def resolve(addr: str) -> ListenAddress:
    """Parse and resolve ``addr``; AddressError with Go's text when it cannot be."""
    # Go accepts an empty address as "default host, any free port" without splitting it.
    host, port_text = split_host_port(addr) if addr else ("", "")
    port = _port_number(port_text)
    if not host:
        return ListenAddress(socket.AF_INET, DEFAULT_LISTEN_HOST, port)
    try:
        ip = ipaddress.ip_address(host)
        return ListenAddress(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, str(ip), port)
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise AddressError(f"lookup {host}: no such host") from None
    # Go prefers IPv4 for a name that has both (localhost -> 127.0.0.1).
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    family, _, _, _, sockaddr = infos[0]
    return ListenAddress(family, str(sockaddr[0]), port)


def bind(address: ListenAddress) -> socket.socket:
    """A listening socket for ``address``, or BindError."""
    family = address.family
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Go sets SO_REUSEADDR too, which is what lets a disabled proxy take its port back at once.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address.host, address.port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        reason = reason[:1].lower() + reason[1:]
        raise BindError(f"listen tcp {address.display()}: bind: {reason}") from None
    return sock
