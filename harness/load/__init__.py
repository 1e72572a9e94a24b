"""Load generation with Locust in a child process, and the ground-truth request records it writes.

``run_load`` starts ``python -m harness.load.runner`` in its own session (process group) and returns
at once; the run stops by itself at the end of its profile. Locust (and gevent's monkey-patching)
never enters the harness process: this package imports neither.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness.core.clock import RunClock
from harness.core.errors import HarnessError
from harness.core.timeline import PHASE, Timeline
from harness.host.runstate import RUN_ENV
from harness.load.profile import (
    ArrivalSchedule,
    ConstantArrivalRate,
    ConstantUsers,
    LoadProfile,
    Ramp,
    Spike,
    Steps,
    profile_to_dict,
)
from harness.load.records import RequestRecords, read_records

__all__ = ["ArrivalSchedule", "ConstantArrivalRate", "ConstantUsers", "LoadProfile", "LoadRun", "Ramp",
           "RequestRecords", "Spike", "Steps", "read_records", "run_load"]

# Beyond the profile's length: Locust start-up, workers joining, in-flight requests finishing.
_GRACE_S = 40.0


class LoadRun:
    """Handle on a running load: ``wait()``, ``stop()``, ``stats``; usable as a context manager."""

    def __init__(self, proc: subprocess.Popen[bytes], profile: LoadProfile, records_path: Path, summary_path: Path,
                 log_path: Path, clock: RunClock, timeline: Timeline | None) -> None:
        self.proc = proc
        self.profile = profile
        self.records_path = records_path
        self.summary_path = summary_path
        self.log_path = log_path
        self.clock = clock
        self.timeline = timeline
        self.started_at = clock.now()
        self.ended_at: float | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def _finished(self, code: int) -> int:
        if self.ended_at is None:
            self.ended_at = self.clock.now()
            if self.timeline is not None:
                self.timeline.record(self.ended_at, PHASE, "load_end", exit_code=code)
        return code

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the profile to end; returns Locust's exit code. Raises if it overruns ``timeout``."""
        limit = self.profile.duration_s + _GRACE_S if timeout is None else timeout
        try:
            code = self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.stop()
            raise HarnessError(f"load run (pid {self.pid}) still running {limit:.0f} s after it started",
                               detail=f"profile: {self.profile}\nlast log lines:\n{self.log_tail()}",
                               hint="stopped it; see the Locust log at " + str(self.log_path)) from None
        return self._finished(code)

    def wait_flowing(self, timeout: float, poll_s: float = 0.05) -> float:
        """Until the first requests are on disk (Locust is up and sending; the recorder writes its first
        request at once); returns the seconds waited. On a busy machine Locust can take many seconds to
        start, and a warm-up timed from the launch would then have had no load at all."""
        started = time.monotonic()
        while True:
            try:
                if self.records_path.stat().st_size > 0:
                    return time.monotonic() - started
            except FileNotFoundError:
                pass
            code = self.proc.poll()
            if code is not None:
                raise HarnessError(f"load generator exited with code {code} before its first request",
                                   detail=self.log_tail(), hint=f"full log: {self.log_path}")
            if time.monotonic() - started >= timeout:
                raise HarnessError(f"load generator made no request within {timeout:.0f} s of its start",
                                   detail=f"last log lines:\n{self.log_tail()}",
                                   hint="Locust is still starting or cannot reach the API: see the log at "
                                        f"{self.log_path}; an overloaded machine starts it slowly")
            time.sleep(poll_s)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM the process group (Locust finishes in-flight requests and flushes), SIGKILL if it lingers."""
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait()
        # Local workers share the group; make sure none outlives the master.
        self._signal(signal.SIGKILL)
        return self._finished(self.proc.returncode)

    def _signal(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def records(self) -> RequestRecords:
        return read_records(self.records_path)

    @property
    def stats(self) -> dict[str, Any]:
        """Totals so far from the records (live), plus Locust's own totals once the run has ended."""
        out: dict[str, Any] = {"running": self.running, "records_path": str(self.records_path)}
        if self.records_path.exists():
            rec = read_records(self.records_path)
            n = len(rec)
            out["requests"] = n
            out["transport_errors"] = int((rec.error != "").sum()) if n else 0
            out["http_5xx"] = int((rec.status >= 500).sum()) if n else 0
            span = float(rec.end.max() - rec.start.min()) if n else 0.0
            out["rps"] = n / span if span > 0 else 0.0
        if self.summary_path.exists():
            try:
                out["locust"] = json.loads(self.summary_path.read_text())
            except ValueError:
                pass
        return out

    def __enter__(self) -> LoadRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_load(target_url: str, profile: LoadProfile, *, records_path: Path | str | None, clock: RunClock,
             locustfile: Path | str | None = None, workers: int = 0, timeline: Timeline | None = None,
             log_path: Path | None = None, run_id: str | None = None) -> LoadRun:
    """Start load against ``target_url`` (e.g. ``http://127.0.0.1:8000``); returns immediately.

    An existing file at ``records_path`` is replaced. ``records_path=None`` turns recording off (only
    for measuring its overhead). ``workers=N`` runs a Locust master with N local worker processes.
    ``run_id`` (the stack's) tags the Locust processes like the stack's services, so they die with the
    harness even after a SIGKILL (the run's reaper and the dead-run sweep find them by that tag).
    """
    if workers < 0:
        raise HarnessError(f"workers must be >= 0, got {workers}")
    if locustfile is not None and not Path(locustfile).is_file():
        raise HarnessError(f"locustfile {locustfile} does not exist", hint="pass the path of a Locust file")
    rec = Path(records_path) if records_path is not None else None
    base = rec if rec is not None else Path(log_path or Path.cwd() / "load").with_suffix(".norecords")
    base.parent.mkdir(parents=True, exist_ok=True)
    summary = base.with_name(base.name + ".summary.json")
    log = log_path or base.with_name(base.name + ".locust.log")
    # A records file belongs to one run: appending a second run's requests would corrupt its SLIs.
    for stale in (summary, *((rec,) if rec else ())):
        stale.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "harness.load.runner", "--host", target_url.rstrip("/"),
           "--profile", json.dumps(profile_to_dict(profile)), "--records", str(rec) if rec else "",
           "--summary", str(summary), "--workers", str(workers)]
    if locustfile is not None:
        cmd += ["--locustfile", str(Path(locustfile).resolve())]
    env = None
    if run_id is not None:
        env = {**os.environ, RUN_ENV: run_id}
    with open(log, "ab") as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    run = LoadRun(proc, profile, rec if rec else base, summary, log, clock, timeline)
    if timeline is not None:
        timeline.record(run.started_at, PHASE, "load_start", profile=profile_to_dict(profile), workers=workers)
    # Fail fast on a child that dies at import (bad locustfile, missing module) instead of at wait().
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is not None and proc.returncode != 0:
        raise HarnessError(f"load generator exited at start with code {proc.returncode}",
                           detail=run.log_tail(), hint=f"full log: {log}")
    return run
