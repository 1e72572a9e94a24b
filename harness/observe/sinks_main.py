"""Run the capture sinks on their own (the docker backend's ``sinks`` service), logging every notification.

    python -m harness.observe.sinks_main --host 0.0.0.0 --http-port 9095 --smtp-port 2525 --log FILE

Each delivery is one JSON line in FILE (the same NOTIFICATION events a local run puts on its timeline).
Only the standard library, aiosmtpd and harness.{clock,timeline,observe.sinks} are imported.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from harness.core.clock import RunClock
from harness.core.timeline import Timeline
from harness.observe import sinks as sink_module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 only inside a container)")
    parser.add_argument("--http-port", type=int, default=9095)
    parser.add_argument("--smtp-port", type=int, default=2525)
    parser.add_argument("--log", type=Path, required=True, help="JSON-lines file of every notification")
    args = parser.parse_args(argv)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    sinks = sink_module.NotificationSinks(RunClock(), Timeline(path=args.log))
    urls = sinks.start(host=args.host, http_port=args.http_port, smtp_port=args.smtp_port)
    print(f"sinks: HTTP {urls.http_base}, SMTP {urls.smtp_host}:{urls.smtp_port}, log {args.log}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    sinks.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
