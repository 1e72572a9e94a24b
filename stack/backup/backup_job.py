"""Scheduled logical backup of the primary, with the metrics the guide's BackupFailed alert watches.

    python stack/backup/backup_job.py --dsn DSN --dir DIR --interval SECONDS --host 127.0.0.1 --port P

Every --interval seconds (and once at start) it runs pg_dump -Fc into DIR, then verifies the dump by
reading its table of contents with pg_restore --list and checking every betting table's data is in
it. Only a verified dump counts as a success. The newest --keep dumps are kept.

HTTP: GET /metrics (backup_last_success_timestamp, backup_failures_total, backup_runs_total,
backup_duration_seconds), GET /healthz, GET|POST /control. POST /control takes JSON
{"fail": true|false} (make the following backups fail, as a broken backup target would) and/or
{"last_success_age_seconds": N} (pretend the last success was N seconds ago) so the harness can
drive the BackupFailed alert without waiting a day.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
REQUIRED_TABLES = ("users", "events", "markets", "bets")


@dataclass
class BackupState:
    """Shared between the scheduler thread and the HTTP handlers; guarded by lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    last_success: float | None = None
    fail: bool = False
    last_error: str = ""
    last_file: str = ""
    running: bool = False
    # Bumped by every /control call. A backup already running when the harness injects a failure or
    # backdates the last success must not overwrite that injected state when it finishes.
    generation: int = 0

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"fail": self.fail, "last_success_timestamp": self.last_success, "last_error": self.last_error,
                    "last_file": self.last_file, "running": self.running}


class LastSuccessCollector(Collector):
    """backup_last_success_timestamp, absent until a first success: exporting 0 would read as
    "last success in 1970" and page immediately at every start."""

    def __init__(self, state: BackupState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        with self.state.lock:
            last = self.state.last_success
        if last is not None:
            family = GaugeMetricFamily("backup_last_success_timestamp",
                                       "Unix time of the last verified successful backup")
            family.add_metric([], last)
            yield family


class BackupMetrics:
    def __init__(self, state: BackupState) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter("backup_runs_total", "Backup attempts", registry=self.registry)
        self.failures = Counter("backup_failures_total", "Backup attempts that failed", registry=self.registry)
        self.duration = Gauge("backup_duration_seconds", "Duration of the last backup attempt",
                              registry=self.registry)
        self.registry.register(LastSuccessCollector(state))


def verify_dump(path: Path, timeout_s: float) -> None:
    """Raise RuntimeError unless pg_restore can read the dump and it holds every table's data."""
    out = subprocess.run([str(PG_BIN / "pg_restore"), "--list", str(path)], capture_output=True, text=True,
                         timeout=timeout_s)
    if out.returncode != 0:
        raise RuntimeError(f"pg_restore --list failed ({out.returncode}): {out.stderr.strip()}")
    toc = out.stdout.splitlines()
    missing = [t for t in REQUIRED_TABLES if not any(f"TABLE DATA public {t} " in line for line in toc)]
    if missing:
        raise RuntimeError(f"dump {path.name} has no data for table(s): {', '.join(missing)}")


class BackupJob:
    def __init__(self, dsn: str, directory: Path, interval_s: float, keep: int = 3, timeout_s: float = 300.0) -> None:
        self.dsn = dsn
        self.directory = directory
        self.interval_s = interval_s
        self.keep = keep
        self.timeout_s = timeout_s
        self.state = BackupState()
        self.metrics = BackupMetrics(self.state)
        self._stop = threading.Event()

    def run_once(self) -> bool:
        started = time.monotonic()
        self.metrics.runs.inc()
        with self.state.lock:
            self.state.running = True
            injected = self.state.fail
            generation = self.state.generation
        target = self.directory / f"betting-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}.dump"
        partial = target.with_suffix(".partial")
        try:
            if injected:
                raise RuntimeError("backup failure injected through /control")
            dump = subprocess.run([str(PG_BIN / "pg_dump"), "--format=custom", "--file", str(partial),
                                   "--dbname", self.dsn], capture_output=True, text=True, timeout=self.timeout_s)
            if dump.returncode != 0:
                raise RuntimeError(f"pg_dump failed ({dump.returncode}): {dump.stderr.strip()}")
            verify_dump(partial, self.timeout_s)
            # Renamed only once verified, so a *.dump file is always a good backup.
            partial.rename(target)
            self._prune()
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            partial.unlink(missing_ok=True)
            self.metrics.failures.inc()
            with self.state.lock:
                self.state.last_error = str(exc)
                self.state.running = False
            print(f"backup_job: backup failed: {exc}", file=sys.stderr, flush=True)
            return False
        finally:
            self.metrics.duration.set(time.monotonic() - started)
        with self.state.lock:
            if self.state.generation == generation:
                self.state.last_success = time.time()
            self.state.last_error = ""
            self.state.last_file = str(target)
            self.state.running = False
        return True

    def _prune(self) -> None:
        dumps = sorted(self.directory.glob("betting-*.dump"))
        for old in dumps[: max(0, len(dumps) - self.keep)]:
            old.unlink(missing_ok=True)

    def loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()

    def control(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(body) - {"fail", "last_success_age_seconds"})
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; accepted: fail (bool), last_success_age_seconds (number)")
        if "fail" in body and not isinstance(body["fail"], bool):
            raise ValueError(f"fail must be true or false, got {json.dumps(body['fail'])}")
        age = body.get("last_success_age_seconds")
        if age is not None and (isinstance(age, bool) or not isinstance(age, int | float) or age < 0):
            raise ValueError(f"last_success_age_seconds must be a number >= 0, got {json.dumps(age)}")
        with self.state.lock:
            self.state.generation += 1
            if "fail" in body:
                self.state.fail = body["fail"]
            if age is not None:
                self.state.last_success = time.time() - float(age)
        return self.state.snapshot()


def make_handler(job: BackupJob) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: object) -> None:
            self._send(status, json.dumps(payload).encode())

        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, generate_latest(job.metrics.registry), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                self._json(200, {"status": "ok"})
            elif self.path == "/control":
                self._json(200, job.state.snapshot())
            else:
                self._json(404, {"error": "not_found", "message": f"no route for GET {self.path}"})

        def do_POST(self) -> None:
            if self.path != "/control":
                self._json(404, {"error": "not_found", "message": f"no route for POST {self.path}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
                self._json(200, job.control(body))
            except ValueError as exc:
                self._json(400, {"error": "bad_request", "message": str(exc)})

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes every few seconds would flood the log

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scheduled, verified pg_dump backups with Prometheus metrics.")
    parser.add_argument("--dsn", required=True, help="libpq URL of the database to back up")
    parser.add_argument("--dir", required=True, type=Path, help="directory for the dumps (created if missing)")
    parser.add_argument("--interval", required=True, type=float, help="seconds between backups")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keep", type=int, default=3, help="number of verified dumps to keep (default 3)")
    args = parser.parse_args(argv)
    if args.interval <= 0:
        parser.error(f"--interval must be > 0 seconds, got {args.interval}")
    if not (PG_BIN / "pg_dump").exists():
        print(f"backup_job: {PG_BIN / 'pg_dump'} not found; install postgresql-client-15 or set PG_BIN",
              file=sys.stderr)
        return 2
    args.dir.mkdir(parents=True, exist_ok=True)
    job = BackupJob(args.dsn, args.dir, args.interval, keep=args.keep)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(job))
    server.daemon_threads = True

    def shutdown(signum: int, frame: object) -> None:
        job.stop()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    scheduler = threading.Thread(target=job.loop, name="backup-scheduler", daemon=True)
    scheduler.start()
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
