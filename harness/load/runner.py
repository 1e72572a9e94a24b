"""Child-process entry point: ``python -m harness.load.runner --host URL --profile JSON ...``.

Runs Locust headless in this process (Locust's gevent monkey-patching happens here, never in the
harness). With ``--workers N`` this process is a Locust master and starts N local worker processes
(same process group, so stopping the group stops them all). Remote machines can join with Locust's
own ``--worker --master-host``; see harness/load/README.md.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

ENTRY = Path(__file__).with_name("entry.py")
# Locust lets users finish the request in flight at the end, so the last requests are recorded too.
STOP_TIMEOUT_S = 10


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m harness.load.runner")
    p.add_argument("--host", required=True, help="base URL of the system under load")
    p.add_argument("--profile", required=True, help="load profile as JSON (harness.load.profile)")
    p.add_argument("--records", default="", help="records file; empty turns recording off")
    p.add_argument("--summary", default="", help="write Locust's totals here as JSON at exit")
    p.add_argument("--locustfile", default="", help="your own locustfile (default: the betting workload)")
    p.add_argument("--workers", type=int, default=0, help="run a master with this many local workers")
    p.add_argument("--expect-workers", type=int, default=0,
                   help="workers to wait for (local + remote); default --workers")
    p.add_argument("--master-port", type=int, default=0, help="master bind port (default: a free port)")
    p.add_argument("--master-bind-host", default="127.0.0.1",
                   help="address the master listens on; loopback unless remote workers must reach it")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--master-host", default="127.0.0.1", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    os.environ["HARNESS_LOAD_PROFILE"] = args.profile
    os.environ["HARNESS_LOAD_RECORDS"] = str(Path(args.records).resolve()) if args.records else ""
    os.environ["HARNESS_LOAD_SUMMARY"] = args.summary
    os.environ["HARNESS_LOAD_USER_FILE"] = str(Path(args.locustfile).resolve()) if args.locustfile else ""
    common = ["locust", "-f", str(ENTRY), "--host", args.host, "--loglevel", "WARNING", "--only-summary",
              "--exit-code-on-error", "0", "--stop-timeout", str(STOP_TIMEOUT_S)]
    workers: list[subprocess.Popen[bytes]] = []
    if args.worker:
        argv_locust = [*common, "--worker", "--master-host", args.master_host, "--master-port", str(args.master_port)]
    elif args.workers > 0:
        port = args.master_port or _free_port()
        expect = args.expect_workers or args.workers
        argv_locust = [*common, "--headless", "--master", "--master-bind-host", args.master_bind_host,
                       "--master-bind-port", str(port), "--expect-workers", str(expect),
                       "--expect-workers-max-wait", "30"]
        for i in range(args.workers):
            env = {**os.environ, "HARNESS_LOAD_WORKER_INDEX": str(i), "HARNESS_LOAD_WORKER_COUNT": str(expect)}
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "harness.load.runner", "--worker", "--host", args.host,
                 "--profile", args.profile, "--records", args.records, "--locustfile", args.locustfile,
                 "--master-port", str(port)], env=env))
    else:
        argv_locust = [*common, "--headless"]

    from locust.main import main as locust_main  # imported here: this is where gevent patches the process

    sys.argv = argv_locust
    try:
        locust_main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        for w in workers:
            try:
                w.wait(timeout=STOP_TIMEOUT_S + 5)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()
    return code


if __name__ == "__main__":
    sys.exit(main())
