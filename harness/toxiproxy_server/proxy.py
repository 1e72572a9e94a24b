"""One proxy: its listener, its live connections and its toxic chains (one per direction)."""

from __future__ import annotations

import asyncio
from typing import Any

from harness.toxiproxy_server import addresses
from harness.toxiproxy_server.apierror import ApiError, server_error
from harness.toxiproxy_server.link import Connection, ProxyContext
from harness.toxiproxy_server.toxics import DIRECTIONS, Toxic


class Proxy:
    def __init__(self, ctx: ProxyContext, name: str, listen: str, upstream: str) -> None:
        self.ctx = ctx
        self.name = name
        self.listen = listen  # as given until started; then the bound address
        self.upstream = upstream
        self.enabled = False
        self.toxics: dict[str, list[Toxic]] = {d: [] for d in DIRECTIONS}
        self.connections: set[Connection] = set()
        self._server: asyncio.AbstractServer | None = None

    # ---- lifecycle

    async def start(self) -> None:
        """Bind and listen. ApiError 500 with Go's text on failure (the proxy stays disabled)."""
        if self.enabled:
            return
        try:
            address = await addresses.resolve(self.listen)
            sock = addresses.bind(address)
        except addresses.AddressError as exc:
            raise server_error(f"listen tcp: {exc}") from None
        except addresses.BindError as exc:
            raise server_error(str(exc)) from None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Connection(self, self.ctx).client, sock=sock)
        self.listen = address.display(sock.getsockname()[1])
        self.enabled = True

    def stop(self) -> None:
        """Close the listener (new connects are refused) and drop every open connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.connections):
            conn.close(False)
        self.enabled = False

    def connection_opened(self, conn: Connection) -> None:
        if not self.enabled:
            conn.close(False)
            return
        self.connections.add(conn)

    def connection_closed(self, conn: Connection) -> None:
        self.connections.discard(conn)
        metrics = self.ctx.metrics
        if metrics is not None:
            for link in (conn.upstream_link, conn.downstream_link):
                metrics.record((link.direction, self.name, self.listen, self.upstream), link.received, link.sent)

    # ---- toxics

    def toxic_list(self) -> list[Toxic]:
        """Upstream toxics first, then downstream, each in insertion order (the real server's order)."""
        return [t for d in DIRECTIONS for t in self.toxics[d]]

    def find_toxic(self, name: str) -> Toxic | None:
        for toxic in self.toxic_list():
            if toxic.name == name:
                return toxic
        return None

    def add_toxic(self, toxic: Toxic) -> None:
        self.toxics[toxic.direction].append(toxic)
        for conn in list(self.connections):
            conn.link(toxic.direction).add_toxic(toxic)

    def update_toxic(self, toxic: Toxic, attributes: dict[str, int], toxicity: float) -> None:
        toxic.attributes = attributes
        toxic.toxicity = toxicity
        for conn in list(self.connections):
            conn.link(toxic.direction).update_toxic(toxic)

    def remove_toxic(self, toxic: Toxic) -> None:
        self.toxics[toxic.direction].remove(toxic)
        for conn in list(self.connections):
            conn.link(toxic.direction).remove_toxic(toxic)

    def remove_all_toxics(self) -> None:
        for toxic in self.toxic_list():
            self.remove_toxic(toxic)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "Logger": {},
            "toxics": [t.to_json() for t in self.toxic_list()],
        }


async def resolved_listen(listen: str) -> str:
    """``listen`` as the OS would normalise it, for comparing against a stored address (2.12 semantics)."""
    try:
        return (await addresses.resolve(listen)).display()
    except addresses.AddressError as exc:
        raise ApiError(str(exc), 500) from None
