"""Load profiles as values: how many users (closed model) or how many arrivals per second (open model).

Pure: no Locust, no network. The child process turns a profile into a Locust ``LoadTestShape`` that
calls ``tick(run_time)`` each second; ``None`` ends the run, so a run stops by itself at the profile's end.

Closed-model profiles (ConstantUsers, Ramp, Steps, Spike) say how many users exist; each user waits
``think_s`` (uniform in [lo, hi]) between requests of the built-in workload. The open-model profile
(ConstantArrivalRate) says how many requests start per second regardless of how the server copes:
requests are scheduled at ``t0 + i / rate`` (``ArrivalSchedule``) and their latency counts from that
intended instant, so a stalled server shows up as latency, not as a generator that quietly slows down.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.core.errors import HarnessError

# Users per second when a profile does not say: fast enough that a step is a step.
_FAST_SPAWN = 100.0
ARRIVAL_GRACE_S = 2.0


def _check(cond: bool, what: str, hint: str = "") -> None:
    if not cond:
        raise HarnessError(f"invalid load profile: {what}", hint=hint)


@dataclass(frozen=True)
class ConstantUsers:
    users: int
    duration_s: float
    spawn_rate: float = _FAST_SPAWN
    think_s: tuple[float, float] = (0.5, 2.0)
    kind: str = field(default="constant", init=False)

    def __post_init__(self) -> None:
        _check(self.users >= 1, f"users must be >= 1, got {self.users}")
        _check(self.duration_s > 0, f"duration_s must be > 0, got {self.duration_s}")
        _check(self.spawn_rate > 0, f"spawn_rate must be > 0, got {self.spawn_rate}")
        _check_think(self.think_s)

    def tick(self, t: float) -> tuple[int, float] | None:
        return (self.users, self.spawn_rate) if t < self.duration_s else None


@dataclass(frozen=True)
class Ramp:
    """Linear from ``start_users`` to ``end_users`` over ``ramp_s``, then held for ``hold_s``."""

    start_users: int
    end_users: int
    ramp_s: float
    hold_s: float = 0.0
    think_s: tuple[float, float] = (0.5, 2.0)
    kind: str = field(default="ramp", init=False)

    def __post_init__(self) -> None:
        _check(self.start_users >= 0 and self.end_users >= 0, "user counts must be >= 0")
        _check(max(self.start_users, self.end_users) >= 1, "a ramp needs at least one user at some point")
        _check(self.ramp_s > 0, f"ramp_s must be > 0, got {self.ramp_s}")
        _check(self.hold_s >= 0, f"hold_s must be >= 0, got {self.hold_s}")
        _check_think(self.think_s)

    @property
    def duration_s(self) -> float:
        return self.ramp_s + self.hold_s

    def users_at(self, t: float) -> int:
        frac = min(max(t / self.ramp_s, 0.0), 1.0)
        return round(self.start_users + (self.end_users - self.start_users) * frac)

    def tick(self, t: float) -> tuple[int, float] | None:
        if t >= self.duration_s:
            return None
        # Spawn at least as fast as the ramp climbs so the user count tracks the line.
        slope = abs(self.end_users - self.start_users) / self.ramp_s
        return (self.users_at(t), max(slope * 2, 1.0))


@dataclass(frozen=True)
class Steps:
    """``steps``: (users, seconds) pairs, run in order."""

    steps: tuple[tuple[int, float], ...]
    spawn_rate: float = _FAST_SPAWN
    think_s: tuple[float, float] = (0.5, 2.0)
    kind: str = field(default="steps", init=False)

    def __post_init__(self) -> None:
        _check(len(self.steps) >= 1, "steps needs at least one (users, seconds) pair")
        for i, (users, secs) in enumerate(self.steps):
            _check(users >= 0 and secs > 0, f"step {i}: users must be >= 0 and seconds > 0, got ({users}, {secs})")
        _check(any(u > 0 for u, _ in self.steps), "every step has 0 users")
        _check(self.spawn_rate > 0, "spawn_rate must be > 0")
        _check_think(self.think_s)

    @property
    def duration_s(self) -> float:
        return float(sum(s for _, s in self.steps))

    def users_at(self, t: float) -> int | None:
        edge = 0.0
        for users, secs in self.steps:
            edge += secs
            if t < edge:
                return int(users)
        return None

    def tick(self, t: float) -> tuple[int, float] | None:
        users = self.users_at(t)
        return None if users is None else (users, self.spawn_rate)


@dataclass(frozen=True)
class Spike:
    """``base_users`` for ``before_s``, ``spike_users`` for ``spike_s``, ``base_users`` for ``after_s``."""

    base_users: int
    spike_users: int
    before_s: float
    spike_s: float
    after_s: float
    spawn_rate: float = _FAST_SPAWN * 5
    think_s: tuple[float, float] = (0.5, 2.0)
    kind: str = field(default="spike", init=False)

    def __post_init__(self) -> None:
        _check(self.spike_users > self.base_users >= 0,
               f"spike_users ({self.spike_users}) must exceed base_users ({self.base_users}) >= 0")
        _check(min(self.before_s, self.after_s) >= 0 and self.spike_s > 0, "phase lengths must be >= 0, spike > 0")
        _check_think(self.think_s)

    @property
    def duration_s(self) -> float:
        return self.before_s + self.spike_s + self.after_s

    def users_at(self, t: float) -> int | None:
        if t < self.before_s:
            return self.base_users
        if t < self.before_s + self.spike_s:
            return self.spike_users
        if t < self.duration_s:
            return self.base_users
        return None

    def tick(self, t: float) -> tuple[int, float] | None:
        users = self.users_at(t)
        return None if users is None else (users, self.spawn_rate)


@dataclass(frozen=True)
class ConstantArrivalRate:
    """Open model: ``rate_per_s`` request starts per second for ``duration_s``.

    ``max_users`` caps concurrency (requests in flight); when every user is waiting on a stalled
    server, arrivals queue and each one's latency still counts from its intended start.
    """

    rate_per_s: float
    duration_s: float
    max_users: int = 50
    kind: str = field(default="arrival_rate", init=False)

    def __post_init__(self) -> None:
        _check(self.rate_per_s > 0, f"rate_per_s must be > 0, got {self.rate_per_s}")
        _check(self.duration_s > 0, f"duration_s must be > 0, got {self.duration_s}")
        _check(self.max_users >= 1, f"max_users must be >= 1, got {self.max_users}")

    @property
    def think_s(self) -> tuple[float, float]:
        return (0.0, 0.0)

    def tick(self, t: float) -> tuple[int, float] | None:
        # The schedule itself bounds the arrivals; the grace lets processes that joined late (workers
        # connect after the master starts its clock) make their last scheduled requests.
        return (self.max_users, float(self.max_users) * 10) if t < self.duration_s + ARRIVAL_GRACE_S else None

    def schedule(self, worker_index: int = 0, worker_count: int = 1) -> ArrivalSchedule:
        """The share of arrivals one of ``worker_count`` generator processes makes, interleaved."""
        return ArrivalSchedule(rate_per_s=self.rate_per_s, duration_s=self.duration_s,
                               offset=worker_index, stride=worker_count)


@dataclass
class ArrivalSchedule:
    """Intended start of arrival ``i`` (0, 1, 2, ...) of the whole run is ``t0 + i / rate``.

    A process owning ``offset`` of ``stride`` takes arrivals offset, offset+stride, ... so N workers
    together make exactly the profile's rate. ``next(now)`` hands out tickets in order; it returns
    None once the schedule is past ``duration_s``.
    """

    rate_per_s: float
    duration_s: float
    offset: int = 0
    stride: int = 1
    t0: float | None = None
    issued: int = 0

    def intended(self, k: int) -> float:
        assert self.t0 is not None
        return self.t0 + (self.offset + k * self.stride) / self.rate_per_s

    def total(self) -> int:
        """Arrivals this process makes over the whole run."""
        n_all = math.ceil(self.duration_s * self.rate_per_s - 1e-9)
        return max(0, math.ceil((n_all - self.offset) / self.stride))

    def next(self, now: float) -> float | None:
        if self.t0 is None:
            self.t0 = now
        if self.issued >= self.total():
            return None
        t = self.intended(self.issued)
        self.issued += 1
        return t


LoadProfile = ConstantUsers | Ramp | Steps | Spike | ConstantArrivalRate

_KINDS: dict[str, type[Any]] = {"constant": ConstantUsers, "ramp": Ramp, "steps": Steps, "spike": Spike,
                                "arrival_rate": ConstantArrivalRate}


def _check_think(think: tuple[float, float]) -> None:
    _check(len(think) == 2 and 0 <= think[0] <= think[1], f"think_s must be (lo, hi) with 0 <= lo <= hi, got {think}")


def profile_to_dict(profile: LoadProfile) -> dict[str, Any]:
    return asdict(profile)


def profile_from_dict(raw: dict[str, Any]) -> LoadProfile:
    """Inverse of ``profile_to_dict`` (the child process receives the profile as JSON)."""
    data = dict(raw)
    kind = data.pop("kind", None)
    cls = _KINDS.get(str(kind))
    if cls is None:
        raise HarnessError(f"unknown load profile kind {kind!r}", hint=f"use one of {', '.join(_KINDS)}")
    if "think_s" in data and cls is not ConstantArrivalRate:
        data["think_s"] = tuple(data["think_s"])
    elif cls is ConstantArrivalRate:
        data.pop("think_s", None)
    if "steps" in data:
        data["steps"] = tuple((int(u), float(s)) for u, s in data["steps"])
    try:
        return cls(**data)
    except TypeError as exc:
        raise HarnessError(f"bad {kind} load profile: {exc}") from exc


def is_open_model(profile: LoadProfile) -> bool:
    return isinstance(profile, ConstantArrivalRate)


def profile_from_spec(name: str, *, rate: float = 30.0, users: int = 10, duration: float = 60.0,
                      params: dict[str, Any] | None = None, tail_s: float = 0.0) -> LoadProfile:
    """A profile from a scenario's ``load:`` block (profile name, rate, users, params); ``duration`` in
    real seconds. ``params`` refine the shape: think_s, spawn_rate, start_users, ramp_s, steps,
    base_users, before_s, spike_s, max_users. ``tail_s``: seconds the final level holds past ``duration``
    (the shape itself is that of ``duration``)."""
    if tail_s < 0:
        raise HarnessError(f"tail_s must be >= 0, got {tail_s}")
    p = dict(params or {})
    think = tuple(p.pop("think_s", (0.5, 2.0)))
    if name == "constant_users":
        return ConstantUsers(users=users, duration_s=duration + tail_s, think_s=think)
    if name == "ramp":
        ramp_s = float(p.get("ramp_s", duration))
        return Ramp(start_users=int(p.get("start_users", 0)), end_users=users, ramp_s=ramp_s,
                    hold_s=max(0.0, duration - ramp_s) + tail_s, think_s=think)
    if name == "steps":
        if "steps" in p:
            steps = tuple((int(u), float(s)) for u, s in p["steps"])
        else:
            n = int(p.get("count", 4))
            steps = tuple((max(1, round(users * (i + 1) / n)), duration / n) for i in range(n))
        if tail_s:
            steps = (*steps[:-1], (steps[-1][0], steps[-1][1] + tail_s))
        return Steps(steps=steps, think_s=think)
    if name == "spike":
        spike_s = float(p.get("spike_s", duration / 3))
        before = float(p.get("before_s", (duration - spike_s) / 2))
        base = int(p.get("base_users", max(1, users // 5)))
        return Spike(base_users=base, spike_users=max(users, base + 1), before_s=before, spike_s=spike_s,
                     after_s=max(0.0, duration - before - spike_s) + tail_s, think_s=think)
    if name == "constant_rate":
        return ConstantArrivalRate(rate_per_s=rate, duration_s=duration + tail_s,
                                   max_users=int(p.get("max_users", max(10, math.ceil(rate)))))
    raise HarnessError(f"unknown load profile {name!r}",
                       hint="use constant_users, ramp, steps, spike or constant_rate")
