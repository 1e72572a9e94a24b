"""``harness toxiproxy-server`` / ``python -m harness.toxiproxy_server``: serve the Toxiproxy 2.x API."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from harness.core.errors import HarnessError
from harness.toxiproxy_server.api import VERSION
from harness.toxiproxy_server.server import ToxiproxyServer, read_config

log = logging.getLogger("harness.toxiproxy_server")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness toxiproxy-server",
        description="A TCP fault proxy serving the Toxiproxy 2.x HTTP API (a stand-in for toxiproxy-server).",
    )
    # Each flag also has the real server's single-dash spelling (Go's flag package: -port 8474, -host=x),
    # so a command line written for toxiproxy-server works unchanged.
    parser.add_argument("--host", "-host", default="127.0.0.1", help="API listen host (default 127.0.0.1)")
    parser.add_argument("--port", "-port", type=int, default=8474,
                        help="API listen port (default 8474; 0 = any free port)")
    parser.add_argument("--config", "-config", type=Path,
                        help="JSON array of proxies (the /populate format) loaded at start")
    parser.add_argument("--seed", "-seed", type=int, help="seed for toxicity draws, jitter and slicer sizes")
    parser.add_argument("--proxy-metrics", "-proxy-metrics", action="store_true",
                        help="serve /metrics with per-proxy byte counters")
    parser.add_argument("--runtime-metrics", "-runtime-metrics", action="store_true",
                        help="accepted for compatibility; enables /metrics")
    parser.add_argument("--version", "-version", action="store_true", help="print the version and exit")
    return parser


async def serve(args: argparse.Namespace) -> int:
    config = read_config(args.config) if args.config else None
    server = ToxiproxyServer(seed=args.seed, metrics=args.proxy_metrics or args.runtime_metrics)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        port = await server.start(args.host, args.port)
    except OSError as exc:
        raise HarnessError(f"toxiproxy-server: cannot listen on {args.host}:{args.port}", detail=str(exc),
                           hint="choose another --port (0 picks a free one)") from None
    if config is not None:
        await server.populate(config)
    # One parseable line so a parent that passed --port 0 can learn the port.
    print(f"toxiproxy-server {VERSION} API listening on {args.host}:{port}", flush=True)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
    return 0


def _run(coro_args: argparse.Namespace) -> int:
    try:
        import uvloop
    except ImportError:  # plain asyncio works, only slower
        return asyncio.run(serve(coro_args))
    return uvloop.run(serve(coro_args))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.version:
        print(f"toxiproxy-server version {VERSION}")
        return 0
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    return _run(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
