"""The server as a whole: the API listener plus the proxy collection it drives."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
from pathlib import Path

from harness.core.errors import HarnessError
from harness.toxiproxy_server.api import ToxiproxyApi
from harness.toxiproxy_server.collection import PopulateError, ProxyCollection
from harness.toxiproxy_server.httpserver import serve_connection
from harness.toxiproxy_server.link import ProxyContext
from harness.toxiproxy_server.metrics import Metrics

log = logging.getLogger("harness.toxiproxy_server")


def read_config(path: Path) -> bytes:
    """The ``--config`` file's bytes, checked to be a JSON array (the /populate body format)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HarnessError(f"toxiproxy config {path}: cannot read it", detail=str(exc),
                           hint="pass --config with an existing JSON file") from None
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}",
                           hint='the file must be a JSON array like [{"name": "p", "listen": "127.0.0.1:0", '
                                '"upstream": "127.0.0.1:5432"}]') from None
    if not isinstance(doc, list):
        raise HarnessError(f"{path}:1: expected a JSON array of proxies, got {type(doc).__name__}",
                           hint="wrap the proxy objects in [ ]")
    return data


class ToxiproxyServer:
    def __init__(self, *, seed: int | None = None, metrics: bool = False) -> None:
        self.ctx = ProxyContext(rng=random.Random(seed), metrics=Metrics() if metrics else None)
        self.collection = ProxyCollection(self.ctx)
        self.api = ToxiproxyApi(self.collection, self.ctx.metrics)
        self._server: asyncio.AbstractServer | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen for the API; returns the bound port."""
        self._server = await asyncio.start_server(
            functools.partial(serve_connection, handler=self.api), host, port, reuse_address=True
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def populate(self, config: bytes) -> None:
        """Load a /populate-format config; failures are logged and serving goes on, as the real server does."""
        try:
            proxies = await self.collection.populate(config)
        except PopulateError as exc:
            log.error("failed to populate proxies from config: %s (created before the failure: %s)",
                      exc.error.message, ", ".join(p.name for p in exc.done) or "none")
            return
        except Exception as exc:
            log.error("failed to populate proxies from config: %s", exc)
            return
        log.info("populated %d proxies from config", len(proxies))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        await self.collection.stop_all()
