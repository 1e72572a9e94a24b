"""The run's timeline: every fault, load phase, alert state change and notification, on one clock.

Events are values; the timeline is an append-only, thread-safe list of them that can be filtered,
serialised to JSON lines and read back. Verdicts (harness.core.verdict) are pure functions over it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Event kinds, so producers and verdicts agree on spelling.
FAULT_START = "fault_start"          # name: fault id; data: {"kind", "target", "params"}
FAULT_END = "fault_end"              # name: fault id
PHASE = "phase"                      # name: load phase / scenario phase; data: {"users" | "rate"}
ALERT_STATE = "alert_state"          # name: alertname; data: {"state": pending|firing|inactive, "labels"}
AM_STATE = "am_state"                # name: alertname; data: {"state": active|suppressed, "inhibited_by", ...}
NOTIFICATION = "notification"        # name: receiver; data: {"protocol", "status", "alerts": [...], "payload"}
MARK = "mark"                        # free-form annotation
# The alert the harness sends straight to Alertmanager before a suite to time its delivery
# (harness.stack.measure); it is the harness's, not the pack's, and reports leave it out.
DELIVERY_PROBE = "HarnessDeliveryProbe"


@dataclass(frozen=True)
class Event:
    t: float                          # run-clock seconds
    kind: str
    name: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)

    @staticmethod
    def from_json(line: str) -> Event:
        raw = json.loads(line)
        return Event(t=float(raw["t"]), kind=raw["kind"], name=raw["name"], data=raw.get("data") or {})


class Timeline:
    """Append-only, thread-safe. Optionally mirrored line by line to a JSONL file (kept on crash)."""

    def __init__(self, events: Iterable[Event] = (), path: Path | None = None) -> None:
        self._events: list[Event] = list(events)
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8") if path is not None else None

    def add(self, event: Event) -> Event:
        with self._lock:
            self._events.append(event)
            if self._file is not None:
                self._file.write(event.to_json() + "\n")
                self._file.flush()
        return event

    def record(self, t: float, kind: str, name: str, **data: Any) -> Event:
        return self.add(Event(t=t, kind=kind, name=name, data=data))

    def events(self, kind: str | None = None, name: str | None = None,
               start: float | None = None, end: float | None = None) -> list[Event]:
        with self._lock:
            snapshot = list(self._events)
        out = [
            e for e in snapshot
            if (kind is None or e.kind == kind)
            and (name is None or e.name == name)
            and (start is None or e.t >= start)
            and (end is None or e.t <= end)
        ]
        out.sort(key=lambda e: e.t)
        return out

    def events_with_state(self, start: float, end: float | None = None) -> list[Event]:
        """Events from ``start`` on, preceded by the state each alert series was in at ``start``: the last
        ALERT_STATE and AM_STATE event of every series before it (with its own, earlier time). A verdict
        over a window then sees an alert that was already firing when the window opened."""
        before = self.events(end=start)
        carried: dict[tuple[str, str, str], Event] = {}
        for e in before:
            if e.kind in (ALERT_STATE, AM_STATE) and e.t < start:
                labels = e.data.get("labels") or {}
                carried[(e.kind, e.name, json.dumps(labels, sort_keys=True))] = e
        return sorted([*carried.values(), *self.events(start=start, end=end)], key=lambda e: e.t)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events())

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    @staticmethod
    def load(path: Path) -> Timeline:
        with path.open(encoding="utf-8") as fh:
            return Timeline(Event.from_json(line) for line in fh if line.strip())
