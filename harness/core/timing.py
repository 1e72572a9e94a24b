"""Time arithmetic for compressed runs, pure: production durations to real seconds, the theoretical minimum
and default bound of an alert's detection latency, and the largest time scale a scenario can run at.

A bound has two kinds of term. Production terms (``for``, windows, scrape and evaluation phase,
``group_wait``) compress with the scale. Real terms do not: a crashed service restarting, an exporter
answering while its target is down, Alertmanager delivering. Those are measured on the running stack
(harness.stack.measure) into ``RealTerms`` and added to the bounds; the scale is then chosen so that they
stay a small part of every bound and no scrape timeout is compressed below what an exporter needs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from harness.core.catalog import AlertRule
from harness.core.promql import read
from harness.core.resolution import AFFORDABLE_SCALE

# Production-time cadence of the reference stack (the betting guide: scrape every 15 s; its rule groups
# evaluate every 30 s; Prometheus's default evaluation interval is 1 m).
SCRAPE_S = 15.0
EVAL_S = 30.0
# Prometheus's scrape timeout in production (the guides' config): an exporter slower than this fails its
# scrape in production too, so its slowness is part of what is tested, not something compression adds.
PRODUCTION_SCRAPE_TIMEOUT_S = 10.0

# A scrape timeout is at least this multiple of the slowest answer measured (healthy answers vary with load;
# the answer of an exporter whose target is down is dominated by its own fixed retry sleep).
HEALTHY_TIMEOUT_MARGIN = 4.0
DOWN_TIMEOUT_MARGIN = 1.5
# A scrape must not cost the scraped process more than it does in production (an answer every 15 s): the API
# renders /metrics on the event loop that serves requests and times queries, so at compressed intervals its
# own scrapes would delay the queries being measured. Its interval is at least this multiple of its answer
# (2.5% of its time; production spends well under 1%).
DUTY_MARGIN = {"api": 40.0}
# Real terms may be at most this share of a bound's compressed part.
MAX_REAL_SHARE = 0.5
# A range window must hold at least this many scrapes of the metrics it reads.
MIN_SCRAPES_PER_WINDOW = 4

# The reference stack's topology: which exporter reports on which service, the scrape job of each exporter,
# and the metric-name prefix of each job (to find the windows a slow job's scrapes must fill).
EXPORTER_OF = {
    "postgres_primary": "postgres_exporter_primary",
    "postgres_replica": "postgres_exporter_replica",
    "redis": "redis_exporter",
}
JOB_OF = {
    "postgres_exporter_primary": "postgres", "postgres_exporter_replica": "postgres",
    "redis_exporter": "redis", "node_exporter": "node", "api": "api", "backup": "backup",
}
JOB_METRIC_PREFIX = {"postgres": ("pg_",), "redis": ("redis_",), "node": ("node_",),
                     "api": ("http_request", "query_duration", "cache_", "bet_transactions", "db_pool",
                             "replica_fallback", "active_bets")}


@dataclass(frozen=True)
class RealTerms:
    """Incompressible real seconds, measured on the running stack before the suite."""

    exporter_s: Mapping[str, float] = field(default_factory=dict)       # exporter -> slowest healthy answer
    exporter_down_s: Mapping[str, float] = field(default_factory=dict)  # service -> its exporter's answer
    #                                                                      while the service is down
    restart_s: Mapping[str, float] = field(default_factory=dict)        # service -> crash to reported up
    delivery_s: float = 0.0                                              # Alertmanager to a receiver

    def restart_of_s(self, services: Iterable[str]) -> float:
        return max((self.restart_s.get(s, 0.0) for s in services), default=0.0)

    def scrape_floors(self, down: Iterable[str] = ()) -> dict[str, float]:
        """The shortest scrape timeout each job needs (so its interval, which a timeout cannot exceed), with
        ``down`` services down. An exporter slower than production's timeout fails its scrape in production
        too: no timeout is owed it."""
        floors: dict[str, float] = {}
        for exporter, answer in self.exporter_s.items():
            job = JOB_OF.get(exporter, exporter)
            floors[job] = max(floors.get(job, 0.0), answer * max(HEALTHY_TIMEOUT_MARGIN, DUTY_MARGIN.get(job, 0.0)))
        for service in down:
            answer = self.exporter_down_s.get(service, 0.0)
            watcher = EXPORTER_OF.get(service)
            if watcher and answer < PRODUCTION_SCRAPE_TIMEOUT_S:
                job = JOB_OF.get(watcher, watcher)
                floors[job] = max(floors.get(job, 0.0), answer * DOWN_TIMEOUT_MARGIN)
        return floors

    def describe(self) -> list[str]:
        rows = [f"exporter {k} answers in {v * 1000:.0f} ms" for k, v in sorted(self.exporter_s.items())]
        rows += [f"with {k} down its exporter answers in " + (f"{v:.2f} s" if math.isfinite(v) else "never")
                 for k, v in sorted(self.exporter_down_s.items())]
        rows += [f"{k} is back {v:.2f} s after a crash ends" for k, v in sorted(self.restart_s.items())]
        if self.delivery_s:
            rows.append(f"Alertmanager delivers in {self.delivery_s * 1000:.0f} ms")
        return rows


def jobs_read(exprs: str | Iterable[str]) -> set[str]:
    """The scrape jobs whose metrics PromQL expressions (a rule and the recording rules it reads) read, by
    metric prefix or a ``job="..."`` matcher; the jobs with no known prefix (the backup job) when they read
    none of the others'."""
    reading = read(exprs)
    jobs = {m.value for s in reading.selectors for m in s.matchers if m.name == "job" and m.op == "="}
    known = {job for job, prefixes in JOB_METRIC_PREFIX.items()
             if job in jobs or any(metric.startswith(prefixes) for metric in reading.metrics)}
    return known or set(JOB_OF.values()) - set(JOB_METRIC_PREFIX)


def job_intervals(scale: float, floors: Mapping[str, float]) -> dict[str, float]:
    """Jobs whose exporters need a longer scrape timeout than the compressed interval allows, and the
    interval (= timeout) each gets: those jobs are scraped less often than the rest, never cut short."""
    interval = SCRAPE_S / scale
    return {job: math.ceil(f * 1000) / 1000 for job, f in sorted(floors.items()) if f > interval}


@dataclass(frozen=True)
class Timing:
    scale: float
    scrape_s: float = SCRAPE_S
    eval_s: float = EVAL_S
    terms: RealTerms = field(default_factory=RealTerms)

    def real(self, production_s: float) -> float:
        return production_s / self.scale

    def min_fire(self, rule: AlertRule) -> float:
        """Real seconds from fault start to firing at best: the fault shows in the very next scrape, the very
        next evaluation sees it (pending), and the alert fires at the first evaluation at least ``for`` later,
        so ``for`` rounded up to whole evaluation intervals. Scrape and evaluation phase add to this at worst
        one interval each; they are in the default bounds, not in the minimum."""
        interval = rule.interval_s or self.eval_s
        return self.real(math.ceil(rule.for_s / interval - 1e-9) * interval if rule.for_s > 0 else 0.0)

    def min_notify(self, rule: AlertRule, group_wait_s: float) -> float:
        """Real seconds from fault start to the first notification at best: firing, then group_wait."""
        return self.min_fire(rule) + self.real(group_wait_s)

    def default_fire_within(self, rule: AlertRule) -> float:
        """Production seconds allowed for firing when a scenario does not say: ``for``, the rule's widest
        range window (a rate needs it to reflect the fault), and two scrapes and evaluations of slack each."""
        interval = rule.interval_s or self.eval_s
        return rule.for_s + rule.max_window_s + 2 * self.scrape_s + 2 * interval + 4 * interval

    def default_resolve_within(self, rule: AlertRule) -> float:
        interval = rule.interval_s or self.eval_s
        return rule.max_window_s + 2 * self.scrape_s + 4 * interval

    # -- real terms ---------------------------------------------------------------------------------
    # The recorder's poll (half an evaluation) is not among them: it compresses, and the production terms'
    # evaluations of slack cover it.
    def fire_real_s(self, down: Iterable[str] = (), exprs: Sequence[str] | None = None) -> float:
        """Real seconds a firing can take beyond its production terms: a scrape of the slowest job the rule
        reads (the scrape timeout its exporters need, with ``down`` services down) coming that much later."""
        floors = self.terms.scrape_floors(down)
        jobs = jobs_read(exprs) if exprs is not None else set(floors)
        return max((f for job, f in floors.items() if job in jobs), default=0.0)

    def resolve_real_s(self, down: Iterable[str] = (), exprs: Sequence[str] | None = None) -> float:
        """Beyond the production terms of resolving: the crashed services restarting, then a healthy answer."""
        return self.terms.restart_of_s(down) + self.fire_real_s((), exprs)

    def notify_real_s(self, down: Iterable[str] = (), exprs: Sequence[str] | None = None) -> float:
        return self.fire_real_s(down, exprs) + self.terms.delivery_s


@dataclass(frozen=True)
class ScaleChoice:
    scale: float
    limits: tuple[str, ...]          # every limit that applied, the binding one first
    refused: str | None = None       # why the scenario cannot be made meaningful here
    # Event needs no affordable scale meets (resolution.AFFORDABLE_SCALE): judged after the run on the
    # events their windows actually held.
    under_resolved: tuple[str, ...] = ()


def choose_scale(cap: float, *, scenario_max: float | None, terms: RealTerms | None, down: Iterable[str],
                 bounds: Iterable[tuple[str, float, float]],
                 windows: Iterable[tuple[str, str, float]] = (),
                 events: Iterable[tuple[float, str]] = ()) -> ScaleChoice:
    """The largest scale, at most ``cap``, at which a scenario still means what it says.

    ``down``: services the scenario takes down; ``bounds``: (what, production seconds, real seconds) of each
    default bound it checks; ``windows``: (alert, metric name, production seconds) of each range window the
    loaded rules read. Limits: the scenario's own ``max_time_scale``; every window over the metrics of a job
    whose exporters need a longer scrape timeout than the compressed interval (``job_intervals``) still
    holding ``MIN_SCRAPES_PER_WINDOW`` of its scrapes; each bound's real terms at most ``MAX_REAL_SHARE`` of
    its compressed part; every window an expected alert reads holding the events its threshold needs at the
    scenario's load rate (``events``: (largest scale, why), harness.core.resolution.limits), where a scale
    of at least ``AFFORDABLE_SCALE`` does it. Whole numbers, so durations stay readable.
    """
    limits: list[tuple[float, str]] = [(cap, f"--time-scale {cap:g} (the cap)")]
    if scenario_max is not None:
        limits.append((scenario_max, f"the scenario's max_time_scale {scenario_max:g}"))
    if terms is not None:
        floors = terms.scrape_floors(down)
        for alert, metric, window_s in windows:
            for job, floor in floors.items():
                if metric.startswith(JOB_METRIC_PREFIX.get(job, ())) and floor > 0:
                    limits.append((window_s / (MIN_SCRAPES_PER_WINDOW * floor),
                                   f"{alert}: its {window_s:g} s window over {metric} holds "
                                   f"{MIN_SCRAPES_PER_WINDOW} scrapes of job {job} ({floor:.2f} s each)"))
        for name, production_s, real_s in bounds:
            if real_s > 0:
                limits.append((MAX_REAL_SHARE * production_s / real_s,
                               f"{name}: {real_s:.2f} s of real terms <= {MAX_REAL_SHARE:.0%} of its bound"))
    under: list[tuple[float, str]] = []
    for lim, text in events:
        (limits if lim >= AFFORDABLE_SCALE else under).append((lim, text))
    limits.sort(key=lambda x: x[0])
    value = math.floor(limits[0][0] + 1e-9)
    texts = tuple(f"{text} allows {lim:.1f}" for lim, text in limits)
    if value < 1:
        return ScaleChoice(1.0, texts, refused=f"even real time is too fast: {limits[0][1]}")
    # An under-resolved need is met anyway where another limit brought the scale down to what it allows.
    return ScaleChoice(float(value), texts, under_resolved=tuple(
        f"{text} allows {lim:.1f}, below {AFFORDABLE_SCALE:g}" for lim, text in sorted(under) if lim < value))
