"""The locustfile the child process hands to Locust: wraps the workload with shape, pacing and recording.

Configured through environment variables set by ``harness.load.runner`` (the same variables reach
local worker processes):

- HARNESS_LOAD_PROFILE: the profile as JSON (harness.load.profile)
- HARNESS_LOAD_USER_FILE: a user's locustfile; default the built-in betting workload
- HARNESS_LOAD_RECORDS: records file (empty: recording off, for overhead measurements)
- HARNESS_LOAD_SUMMARY: where the master (or the single process) writes Locust's totals at exit
- HARNESS_LOAD_WORKER_INDEX / HARNESS_LOAD_WORKER_COUNT: this process's share of an open-model schedule
"""

from __future__ import annotations

import atexit
import importlib.util
import inspect
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from locust import LoadTestShape, User, between, constant, events
from locust.runners import MasterRunner

from harness.load.profile import ArrivalSchedule, ConstantArrivalRate, profile_from_dict
from harness.load.recorder import INTENDED_KEY, Recorder

_PROFILE = profile_from_dict(json.loads(os.environ["HARNESS_LOAD_PROFILE"]))
_USER_FILE = os.environ.get("HARNESS_LOAD_USER_FILE", "")


def _load_user_classes() -> list[type[User]]:
    if not _USER_FILE:
        # Not at module level: Locust takes every User class in this module's namespace, and a user file
        # replaces the built-in users.
        from harness.load.betting import BettingUser

        lo, hi = _PROFILE.think_s
        BettingUser.wait_time = constant(0) if hi == 0 else between(lo, hi)
        return [BettingUser]
    path = Path(_USER_FILE)
    spec = importlib.util.spec_from_file_location(f"harness_user_locustfile_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import locustfile {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    found = [obj for obj in vars(module).values()
             if inspect.isclass(obj) and issubclass(obj, User) and obj.__module__ == module.__name__
             and not obj.__dict__.get("abstract", False)]
    if not found:
        raise SystemExit(f"{path}: no User class defined in this file (define e.g. class MyUser(FastHttpUser))")
    return found


def _pace(classes: list[type[User]], schedule: ArrivalSchedule) -> None:
    """Make each user take the next arrival ticket instead of thinking, and tag its next request with it."""

    def paced_wait(user: User) -> float:
        intended = schedule.next(time.monotonic())
        if intended is None:
            return 3600.0  # schedule done; the shape ends the run
        user._harness_intended = intended  # type: ignore[attr-defined]
        return max(0.0, intended - time.monotonic())

    for cls in classes:
        original_context = cls.context
        original_on_start = cls.on_start

        def context(self: User, _orig: Any = original_context) -> dict[str, Any]:
            ctx = _orig(self)
            # One-shot: only the task's first request was scheduled; later ones start when it ends.
            intended = self.__dict__.pop("_harness_intended", None)
            return ctx if intended is None else {**ctx, INTENDED_KEY: intended}

        def on_start(self: User, _orig: Any = original_on_start) -> None:
            _orig(self)
            # Locust runs a user's first task without waiting; wait for the first ticket here.
            self.wait()

        cls.context = context  # type: ignore[method-assign]
        cls.on_start = on_start  # type: ignore[method-assign]
        cls.wait_time = paced_wait


_classes = _load_user_classes()
if isinstance(_PROFILE, ConstantArrivalRate):
    _pace(_classes, _PROFILE.schedule(int(os.environ.get("HARNESS_LOAD_WORKER_INDEX", "0")),
                                      int(os.environ.get("HARNESS_LOAD_WORKER_COUNT", "1"))))
# Locust collects User classes from this module's namespace; no other name may refer to them.
globals().update({cls.__name__: cls for cls in _classes})


class HarnessShape(LoadTestShape):
    def tick(self) -> tuple[int, float] | None:
        return _PROFILE.tick(self.get_run_time())


_recorder: Recorder | None = None


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    global _recorder
    # Locust's own SIGTERM handler does not fire here (the process died with the default action), so
    # stop gracefully ourselves: users finish their request, the main greenlet ends, Locust shuts down
    # and fires quit, where the records are flushed.
    signal.signal(signal.SIGTERM, lambda *_a: gevent.spawn(environment.runner.quit))
    records = os.environ.get("HARNESS_LOAD_RECORDS", "")
    if records and not isinstance(environment.runner, MasterRunner):
        _recorder = Recorder(Path(records))
        environment.events.request.add_listener(_recorder.on_request)
        _recorder.start_flushing()
        atexit.register(_recorder.close)


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    if _recorder is not None:
        _recorder.writer.flush()
    summary = os.environ.get("HARNESS_LOAD_SUMMARY", "")
    if summary and not type(environment.runner).__name__.startswith("Worker"):
        total = environment.stats.total
        elapsed = max((total.last_request_timestamp or total.start_time) - total.start_time, 1e-9)
        Path(summary).write_text(json.dumps({
            "requests": total.num_requests, "failures": total.num_failures,
            "first_request_wall": total.start_time, "last_request_wall": total.last_request_timestamp,
            "rps": total.num_requests / elapsed,
        }))


@events.quit.add_listener
def _on_quit(**_: Any) -> None:
    # Fired after the runner stopped its users (graceful stop), so the last requests are in.
    if _recorder is not None:
        _recorder.close()
