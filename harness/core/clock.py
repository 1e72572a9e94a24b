"""One monotonic clock per run, so faults, requests, alerts and notifications share a time axis.

Times on the run clock are float seconds since the run started (``t``). The clock also keeps the
wall-clock instant of its start, to convert Prometheus/Alertmanager timestamps (Unix seconds) onto it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunClock:
    """``now()`` is seconds since the run began, from ``time.monotonic``."""

    mono_start: float = field(default_factory=time.monotonic)
    wall_start: float = field(default_factory=time.time)

    def now(self) -> float:
        return time.monotonic() - self.mono_start

    def from_wall(self, unix_seconds: float) -> float:
        """Convert a Unix timestamp (e.g. from Prometheus) to run-clock seconds."""
        return unix_seconds - self.wall_start

    def to_wall(self, t: float) -> float:
        """Convert run-clock seconds to a Unix timestamp (e.g. for a Prometheus query)."""
        return self.wall_start + t

    def from_monotonic(self, mono: float) -> float:
        return mono - self.mono_start
