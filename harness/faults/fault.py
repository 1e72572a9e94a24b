"""The one shape every fault has: start/stop on the run clock, a context manager, and a timed action.

A ``Fault`` is one-shot: ``start()`` applies it and records FAULT_START, ``stop()`` undoes it and records
FAULT_END, both on the run clock. ``stop()`` is idempotent, so scenario teardown can call it on every fault
without knowing which ones ran. ``schedule()`` runs the same start/stop on a background thread at an
offset, for a duration, and can be cancelled at any point.

Timestamps: FAULT_START.t is when the fault began to be applied and FAULT_END.t is when the undo finished,
so [start, end] is the widest window in which the system was disturbed (a Redis fill disturbs from its
first write; a crashed service is down until its restart is ready). The narrower instants are in the
data: ``applied_t`` (the fault fully in place) and ``undo_started_t``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from harness.core.errors import HarnessError
from harness.core.protocols import Clock, FaultTarget
from harness.core.timeline import FAULT_END, FAULT_START, MARK, Event

log = logging.getLogger(__name__)

# Longest single wait in a schedule, so a fake clock advanced by a test is noticed promptly; against the
# real clock the last step waits exactly the remaining time.
_POLL_S = 0.05

PENDING, ACTIVE, ENDED, FAILED = "pending", "active", "ended", "failed"


class FaultError(HarnessError):
    """A fault could not be applied or undone."""


class Fault:
    """Base class: subclasses implement ``_apply`` and ``_undo`` and may return extra timeline data."""

    kind: str = "fault"
    # An instant fault (a restart) is over once applied: its end is recorded right after its start.
    instant: bool = False

    def __init__(self, target: FaultTarget, *, fault_id: str, target_name: str | None,
                 params: Mapping[str, Any]) -> None:
        self._target = target
        self.id = fault_id
        self.target_name = target_name
        self.params: dict[str, Any] = dict(params)
        self.state = PENDING
        self.started_t: float | None = None
        self.ended_t: float | None = None
        # The level the fault achieved, measured on the component (a calibrated fault's ratio, the share of
        # connections held, the memory or disk fraction reached); the runner puts it in the report.
        self.achieved: dict[str, Any] = {}
        self._lock = threading.RLock()

    # -- what subclasses provide -------------------------------------------------------------------
    def _apply(self) -> Mapping[str, Any] | None:
        raise NotImplementedError

    def _undo(self) -> Mapping[str, Any] | None:
        raise NotImplementedError

    # -- lifecycle ---------------------------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        return self._target.clock

    @property
    def active(self) -> bool:
        return self.state == ACTIVE

    def describe(self) -> str:
        on = f" on {self.target_name}" if self.target_name else ""
        return f"fault {self.id!r} ({self.kind}{on})"

    def _data(self, **extra: Any) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target_name, "params": dict(self.params), **extra}

    def _record(self, t: float, kind: str, data: dict[str, Any]) -> None:
        # Timeline.record(**data) cannot take a "kind" key (it is its own argument): build the Event.
        self._target.timeline.add(Event(t=t, kind=kind, name=self.id, data=data))

    def start(self) -> Fault:
        """Apply the fault now. Raises FaultError (after undoing any partial effect) if it cannot."""
        with self._lock:
            if self.state == ACTIVE:
                return self
            if self.state != PENDING:
                raise FaultError(f"{self.describe()} has already run ({self.state})",
                                 hint="faults are one-shot: create a new one to inject it again")
            t0 = self.clock.now()
            try:
                extra = self._apply() or {}
            except BaseException as exc:
                self.state = FAILED
                self._best_effort_undo_after_failed_start()
                self._record(self.clock.now(), MARK, self._data(error=f"start failed: {exc}"))
                if isinstance(exc, Exception):
                    raise _wrap(exc, f"{self.describe()} could not start") from exc
                raise
            self.started_t = t0
            self.state = ACTIVE
            self._record(t0, FAULT_START, self._data(applied_t=self.clock.now(), **extra))
            log.info("%s started at t=%.3f", self.describe(), t0)
            if self.instant:
                self._finish(self.clock.now(), {}, None)
            return self

    def stop(self) -> None:
        """Undo the fault. Idempotent: a no-op on a fault that is not active (a never-started one ends)."""
        with self._lock:
            if self.state == PENDING:
                self.state = ENDED
                return
            if self.state != ACTIVE:
                return
            t_undo = self.clock.now()
            try:
                extra = self._undo() or {}
            except Exception as exc:
                self._finish(t_undo, {}, exc)
                raise _wrap(exc, f"{self.describe()} could not be undone") from exc
            self._finish(t_undo, extra, None)

    def _finish(self, t_undo: float, extra: Mapping[str, Any], error: BaseException | None) -> None:
        self.state = ENDED
        self.ended_t = self.clock.now()
        data = self._data(undo_started_t=t_undo, **extra)
        if error is not None:
            data["error"] = str(error)
        self._record(self.ended_t, FAULT_END, data)
        log.info("%s ended at t=%.3f", self.describe(), self.ended_t)

    def _best_effort_undo_after_failed_start(self) -> None:
        try:
            self._undo()
        except Exception as exc:
            log.warning("%s: undo after failed start also failed: %s", self.describe(), exc)

    # -- context manager ---------------------------------------------------------------------------
    def __enter__(self) -> Fault:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.stop()
        except Exception as undo_exc:
            if exc is None:
                raise
            # The body's exception is the first error; keep it visible and attach ours to it.
            exc.add_note(f"while handling it, undoing {self.describe()} also failed: {undo_exc}")

    # -- timed action ------------------------------------------------------------------------------
    def schedule(self, start: float = 0.0, duration: float | None = None, *,
                 origin: float | None = None) -> Schedule:
        """Start at run-clock ``origin + start`` (origin defaults to now), stop ``duration`` s later.

        ``duration=None`` holds the fault until cancelled or undone. Returns a running ``Schedule``.
        """
        if start < 0:
            raise FaultError(f"{self.describe()}: start offset {start} is negative")
        if duration is not None and duration < 0:
            raise FaultError(f"{self.describe()}: duration {duration} is negative")
        base = self.clock.now() if origin is None else origin
        sched = Schedule(self, base + start, None if duration is None else base + start + duration)
        sched.begin()
        return sched

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.state}>"


class Schedule:
    """A fault run on a background thread between two run-clock instants; ``cancel()`` undoes it early."""

    def __init__(self, fault: Fault, start_t: float, end_t: float | None) -> None:
        self.fault = fault
        self.start_t = start_t
        self.end_t = end_t
        self.error: BaseException | None = None
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"fault-{fault.id}", daemon=True)

    def begin(self) -> None:
        self._thread.start()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self, wait: float | None = 30.0) -> None:
        """Stop waiting; undo the fault if it is in place. Joins the thread (up to ``wait`` seconds)."""
        self._cancel.set()
        if wait is not None and threading.current_thread() is not self._thread:
            self._thread.join(wait)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the schedule to finish; re-raise the error it hit, if any."""
        self._thread.join(timeout)
        if self.error is not None:
            raise self.error

    def _wait_until(self, deadline: float) -> bool:
        """True if cancelled before the run clock reaches ``deadline``."""
        clock = self.fault.clock
        while True:
            remaining = deadline - clock.now()
            if remaining <= 0:
                return self._cancel.is_set()
            if self._cancel.wait(min(remaining, _POLL_S)):
                return True

    def _run(self) -> None:
        try:
            if self._wait_until(self.start_t):
                self.fault.stop()  # never started: just mark it ended
                return
            self.fault.start()
            if self.end_t is None:
                self._cancel.wait()
            else:
                self._wait_until(self.end_t)
            self.fault.stop()
        except BaseException as exc:  # a background thread has no caller: keep the error for join()
            self.error = exc
            log.error("scheduled %s failed: %s", self.fault.describe(), exc)
            try:
                self.fault.stop()
            except Exception as undo_exc:
                log.warning("%s: undo after error failed: %s", self.fault.describe(), undo_exc)


def _wrap(exc: Exception, what: str) -> FaultError:
    if isinstance(exc, HarnessError):
        return FaultError(what, detail=exc.render())
    return FaultError(what, detail=f"{type(exc).__name__}: {exc}")
