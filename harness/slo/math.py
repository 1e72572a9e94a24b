"""Exact SLO math over request records: pure numpy, no I/O.

Definitions used throughout (events are requests):

- **Good event**: decided by a predicate over (status, error). Default ``good_not_5xx``: a response
  arrived (no transport error, status > 0) and it is not a 5xx. ``good_status_200`` is the betting
  seed's own definition (``status = 200``), under which an expected 4xx (an invalid bet) is bad.
- **Availability SLI** = good / total over a window; NaN when there are no events.
- **Latency SLI** = share of events with latency <= threshold (``<=`` because Prometheus histogram
  buckets are ``le``, so a threshold equal to a bucket bound is read exactly from that bucket).
- **Percentile** (exact): nearest rank, the smallest observed latency x with share(latency <= x) >= q.
  So ``latency_sli(lat, percentile(lat, q)) >= q`` always, and "p95 <= budget" means the same as
  "at least 95% of requests at or under budget".
- **Error budget** for objective o over N events: allowed bad = (1 - o) N; consumed = bad / allowed
  (1.0 = exhausted, > 1 = SLO violated); remaining = 1 - consumed. In time (the seeds' formula),
  allowed downtime = (1 - o) x window minutes (99.9% of 30 days = 43.2 min), and downtime used =
  (1 - availability) x window minutes.
- **Burn rate** over a window = (bad / total in that window) / (1 - o). Burning at rate 1 for the
  whole SLO period consumes exactly the budget; at rate b for time t it consumes b t / period.
- **Multi-window, multi-burn-rate** (SRE workbook, ch. 5): alert when both the long and the short
  window burn at >= the factor. For a 30-day 99.9% SLO: 1h/5m at 14.4 (2% of budget, page),
  6h/30m at 6 (5%, page), 3d/6h at 1 (10%, ticket).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

GoodPredicate = Callable[[np.ndarray, np.ndarray], np.ndarray]

THIRTY_DAYS_S = 30 * 86400.0


def good_not_5xx(status: np.ndarray, error: np.ndarray) -> np.ndarray:
    """Default: a response arrived and it is not a server error."""
    status = np.asarray(status)
    return (status > 0) & (status < 500) & (np.asarray(error) == "")


def good_status_200(status: np.ndarray, error: np.ndarray) -> np.ndarray:
    """The betting seed's definition (``COUNT(*) FILTER (WHERE status = 200)``)."""
    return (np.asarray(status) == 200) & (np.asarray(error) == "")


GOOD_PREDICATES: dict[str, GoodPredicate] = {"not_5xx": good_not_5xx, "status_200": good_status_200}


# --- SLIs -----------------------------------------------------------------------------------------

def availability(good: np.ndarray) -> float:
    """Share of good events; NaN for no events."""
    good = np.asarray(good, dtype=bool)
    return float(good.mean()) if good.size else float("nan")


def latency_sli(latency_s: np.ndarray, threshold_s: float) -> float:
    """Share of events with latency <= threshold; NaN for no events."""
    lat = np.asarray(latency_s, dtype=np.float64)
    return float((lat <= threshold_s).mean()) if lat.size else float("nan")


def percentile(latency_s: np.ndarray, q: float) -> float:
    """Exact nearest-rank percentile, ``q`` in (0, 1]; an observed value. NaN for no events."""
    if not 0.0 < q <= 1.0:
        raise ValueError(f"q must be in (0, 1], got {q}")
    lat = np.sort(np.asarray(latency_s, dtype=np.float64))
    if lat.size == 0:
        return float("nan")
    rank = int(np.ceil(q * lat.size - 1e-9))  # 1-based; the epsilon keeps q*n integral despite rounding
    return float(lat[min(max(rank, 1), lat.size) - 1])


def percentiles(latency_s: np.ndarray, qs: Sequence[float]) -> dict[float, float]:
    return {q: percentile(latency_s, q) for q in qs}


# --- Error budget ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ErrorBudget:
    objective: float
    total: int
    bad: int

    @property
    def allowed_bad(self) -> float:
        return (1.0 - self.objective) * self.total

    @property
    def consumed(self) -> float:
        """Share of the budget used: 0 = untouched, 1 = exhausted, > 1 = SLO violated."""
        if self.total == 0:
            return 0.0
        if self.allowed_bad == 0:
            return float("inf") if self.bad else 0.0
        return self.bad / self.allowed_bad

    @property
    def remaining(self) -> float:
        return 1.0 - self.consumed

    @property
    def sli(self) -> float:
        return (self.total - self.bad) / self.total if self.total else float("nan")


def error_budget(good: np.ndarray, objective: float) -> ErrorBudget:
    _check_objective(objective)
    good = np.asarray(good, dtype=bool)
    return ErrorBudget(objective=objective, total=int(good.size), bad=int((~good).sum()))


def allowed_downtime_minutes(objective: float, window_s: float = THIRTY_DAYS_S) -> float:
    """(1 - objective) x window in minutes: 43.2 for 99.9% over 30 days (the seeds say "43 minutes")."""
    _check_objective(objective)
    return (1.0 - objective) * window_s / 60.0


def downtime_minutes(availability_ratio: float, window_s: float = THIRTY_DAYS_S) -> float:
    """The betting seed's report: (1 - good/total) x 43200 for a 30-day month."""
    return (1.0 - availability_ratio) * window_s / 60.0


# --- Burn rate ------------------------------------------------------------------------------------

def burn_rate(bad: int | float, total: int | float, objective: float) -> float:
    """(bad / total) / (1 - objective); NaN for no events."""
    _check_objective(objective)
    if total == 0:
        return float("nan")
    return (bad / total) / (1.0 - objective)


def burn_rate_over(times: np.ndarray, good: np.ndarray, at: float, window_s: float, objective: float) -> float:
    """Burn rate of the events with time in (at - window_s, at]."""
    t = np.asarray(times, dtype=np.float64)
    g = np.asarray(good, dtype=bool)
    m = (t > at - window_s) & (t <= at)
    return burn_rate(int((~g[m]).sum()), int(m.sum()), objective)


def budget_consumed_by(burn: float, duration_s: float, period_s: float = THIRTY_DAYS_S) -> float:
    """Share of a period's budget a constant burn rate uses in ``duration_s``."""
    return burn * duration_s / period_s


@dataclass(frozen=True)
class BurnWindow:
    long_s: float
    short_s: float
    factor: float
    severity: str

    def budget_share(self, period_s: float = THIRTY_DAYS_S) -> float:
        """Share of the period's budget consumed by the time the long window alone would trigger."""
        return budget_consumed_by(self.factor, self.long_s, period_s)


# SRE workbook, "Alerting on SLOs", table 5-8 (for a 30-day SLO).
WORKBOOK_BURN_WINDOWS: tuple[BurnWindow, ...] = (
    BurnWindow(long_s=3600.0, short_s=300.0, factor=14.4, severity="page"),
    BurnWindow(long_s=6 * 3600.0, short_s=1800.0, factor=6.0, severity="page"),
    BurnWindow(long_s=3 * 86400.0, short_s=6 * 3600.0, factor=1.0, severity="ticket"),
)


@dataclass(frozen=True)
class BurnEvaluation:
    window: BurnWindow
    long_burn: float
    short_burn: float

    @property
    def firing(self) -> bool:
        # NaN (no traffic in a window) compares False: no traffic never pages.
        return bool(self.long_burn >= self.window.factor and self.short_burn >= self.window.factor)


def evaluate_burn_windows(times: np.ndarray, good: np.ndarray, at: float, objective: float,
                          windows: Sequence[BurnWindow] = WORKBOOK_BURN_WINDOWS,
                          time_scale: float = 1.0) -> list[BurnEvaluation]:
    """Evaluate each multi-window row at ``at``; windows are divided by ``time_scale`` (compressed time)."""
    return [BurnEvaluation(w, burn_rate_over(times, good, at, w.long_s / time_scale, objective),
                           burn_rate_over(times, good, at, w.short_s / time_scale, objective)) for w in windows]


# --- Error-budget policy --------------------------------------------------------------------------

@dataclass(frozen=True)
class PolicyTier:
    """Applies when remaining budget (a share, 1.0 = 100%) is in (above, up_to]; the exhausted tier has
    ``exhausted=True`` and applies at remaining <= 0."""

    name: str
    above: float
    up_to: float
    action: str
    exhausted: bool = False


# Betting seed: "> 50%", "25-50%", "< 25%", "0%". A boundary value goes to the range written with a
# dash (50% and 25% are both "25-50%").
BETTING_POLICY: tuple[PolicyTier, ...] = (
    PolicyTier("ship", 0.50, float("inf"), "Ship new features, aggressive changes"),
    PolicyTier("slow_down", 0.25, 0.50, "Slow down releases, increase testing"),
    PolicyTier("freeze", 0.0, 0.25, "Feature freeze, focus on reliability"),
    PolicyTier("emergency", float("-inf"), 0.0, "Emergency: stop all changes, incident response", exhausted=True),
)
# PetForce seed: "> 80%", "50-80%", "< 50%", "0% (SLO violated)".
PETFORCE_POLICY: tuple[PolicyTier, ...] = (
    PolicyTier("ship_fast", 0.80, float("inf"), "Ship fast, take risks"),
    PolicyTier("balanced", 0.50, 0.80, "Balanced approach"),
    PolicyTier("reliability", 0.0, 0.50, "Focus on reliability, slow down deployments"),
    PolicyTier("freeze", float("-inf"), 0.0, "Feature freeze, only reliability work", exhausted=True),
)


def policy_tier(remaining: float, policy: Sequence[PolicyTier]) -> PolicyTier:
    """The tier for a remaining-budget share. The 25-50% style ranges are closed on both ends, the
    open-ended ones (> 50%, < 25%) exclusive, as the seeds write them."""
    if remaining != remaining:  # NaN
        raise ValueError("remaining budget is NaN (no events)")
    for tier in policy:
        if tier.exhausted and remaining <= 0:
            return tier
    for tier in policy:
        if tier.exhausted:
            continue
        if tier.above < remaining <= tier.up_to or (remaining == tier.above and _closed_below(tier, policy)):
            return tier
    raise ValueError(f"no policy tier covers remaining={remaining}")


def _closed_below(tier: PolicyTier, policy: Sequence[PolicyTier]) -> bool:
    # A dashed range ("25-50%") owns its lower bound; the tier below ("< 25%") is exclusive at the top.
    return tier.up_to != float("inf") and tier.above > 0


def _check_objective(objective: float) -> None:
    if not 0.0 < objective < 1.0:
        raise ValueError(f"objective must be in (0, 1), got {objective}")
