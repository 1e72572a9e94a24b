"""A Toxiproxy-2.x-compatible TCP fault proxy, used where no ``toxiproxy-server`` binary is available.

Run it with ``harness toxiproxy-server`` or ``python -m harness.toxiproxy_server``; embed it with
``ToxiproxyServer`` (asyncio). The contract is the real server's HTTP API, status codes and bodies.
"""

from harness.toxiproxy_server.api import VERSION
from harness.toxiproxy_server.server import ToxiproxyServer

__all__ = ["VERSION", "ToxiproxyServer"]
