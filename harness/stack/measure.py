"""Measure the stack's incompressible real terms before a suite (harness.core.timing.RealTerms).

Each exporter's answer time healthy; for each service an exporter watches, how long that exporter takes to
answer while the service is crashed, and how long after the crash ends it reports the service up again.
Measured with Prometheus scraping at real time (scale 1), so the exporters answer us rather than a queue
of compressed scrapes, then the stack goes back to the scale it had.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import requests

from harness.core.resolution import EventRates, rates_from_counts
from harness.core.timeline import DELIVERY_PROBE, MARK, NOTIFICATION
from harness.core.timing import EXPORTER_OF, PRODUCTION_SCRAPE_TIMEOUT_S, RealTerms
from harness.faults import Faults
from harness.load import run_load
from harness.load.profile import profile_from_spec
from harness.stack.model import Stack

log = logging.getLogger("harness.stack")

HEALTHY_SAMPLES = 5
DOWN_SAMPLES = 2
UP_METRIC = {"postgres_exporter_primary": "pg_up 1", "postgres_exporter_replica": "pg_up 1",
             "redis_exporter": "redis_up 1"}
RESTART_TIMEOUT_S = 60.0


def answer_s(url: str, session: requests.Session, timeout: float = PRODUCTION_SCRAPE_TIMEOUT_S) -> float:
    """Seconds ``url`` takes to answer in full; infinite when it does not within ``timeout``."""
    started = time.monotonic()
    try:
        session.get(url, timeout=timeout).raise_for_status()
    except requests.Timeout:
        return math.inf
    return time.monotonic() - started


def wait_reported_up(url: str, marker: str, session: requests.Session, timeout: float = RESTART_TIMEOUT_S,
                     sleep: Callable[[float], None] = time.sleep) -> float:
    """Seconds until the exporter at ``url`` reports its service up (``marker`` in its metrics)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if marker in session.get(url, timeout=PRODUCTION_SCRAPE_TIMEOUT_S).text:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        sleep(0.02)
    return math.inf


# Seconds of steady load after the measurement (which crashes and restarts services) and before the first
# scenario: the API's pools reconnect and its cache fills, so the first scenario meets a warm stack.
WARM_UP_S = 30.0
WARM_UP_RATE = 30.0
RATE_SETTLE_S = 5.0


Series = tuple[str, tuple[tuple[str, str], ...]]

PROBE = DELIVERY_PROBE
DELIVERY_TIMEOUT_S = 60.0


def measure_delivery(stack: Stack, group_wait_s: float) -> float:
    """Real seconds Alertmanager takes to deliver a new alert beyond its compressed ``group_wait`` (production
    seconds of the root route): the probe alert is posted, timed to its arrival at a receiver, then resolved.
    0 when the stack has no Alertmanager; raises when the probe never arrives."""
    url = stack.urls.get("alertmanager")
    if not url:
        return 0.0
    labels = {"alertname": PROBE, "harness_run": stack.run_id}
    clock, session = stack.clock, requests.Session()
    posted = clock.now()
    session.post(f"{url}/api/v2/alerts", json=[{"labels": labels}], timeout=5).raise_for_status()
    try:
        while (waited := clock.now() - posted) < DELIVERY_TIMEOUT_S:
            for ev in stack.timeline.events():
                if ev.kind == NOTIFICATION and ev.t >= posted and any(
                        PROBE in (a.get("alertname"), (a.get("labels") or {}).get("alertname"))
                        for a in ev.data.get("alerts") or []):
                    return max(0.0, ev.t - posted - group_wait_s / stack.time_scale)
            time.sleep(0.05)
        raise RuntimeError(f"Alertmanager delivered no probe alert to any receiver within {waited:.0f} s")
    finally:
        ended = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
        session.post(f"{url}/api/v2/alerts", json=[{"labels": labels, "endsAt": ended}], timeout=5)


def counters(url: str, session: requests.Session) -> dict[Series, float]:
    """Every counter sample (``_total``, a histogram's ``_count``) of a /metrics page."""
    from prometheus_client.parser import text_string_to_metric_families

    text = session.get(url, timeout=PRODUCTION_SCRAPE_TIMEOUT_S).text
    return {(s.name, tuple(sorted(s.labels.items()))): float(s.value)
            for fam in text_string_to_metric_families(text) for s in fam.samples
            if s.name.endswith(("_total", "_count"))}


def warm_up(stack: Stack, records_dir: Path, seconds: float = WARM_UP_S) -> EventRates | None:
    """Steady load on the API; returns what each of its counters counts per request meanwhile."""
    if "api" not in stack.urls:
        return None
    stack.timeline.record(stack.clock.now(), MARK, "warm_up", seconds=seconds)
    load = run_load(stack.urls["api"], profile_from_spec("constant_rate", rate=WARM_UP_RATE, duration=seconds),
                    records_path=records_dir / "warm-up.records", clock=stack.clock,
                    run_id=stack.run_id)
    session = requests.Session()
    metrics = f"{stack.urls['api']}/metrics"
    try:
        time.sleep(min(RATE_SETTLE_S, seconds / 4))   # the first requests meet cold pools: not counted
        before = counters(metrics, session)
        time.sleep(max(0.0, seconds - min(RATE_SETTLE_S, seconds / 4)))
        after = counters(metrics, session)
    finally:
        load.stop()
    requests_served = sum(v - before.get(k, 0.0) for k, v in after.items() if k[0] == "http_requests_total")
    rates = rates_from_counts(before, after, requests_served)
    log.info("measured events per request over %.0f requests: %s", requests_served, ", ".join(
        f"{name}{dict(labels)} {share:.4f}" for (name, labels), share in sorted(rates.per_request.items())
        if name == "query_duration_seconds_count"))
    return rates


def measure_terms(stack: Stack) -> RealTerms:
    scale = stack.time_scale
    session = requests.Session()
    stack.timeline.record(stack.clock.now(), MARK, "measure_terms")
    stack.set_time_scale(1.0)
    try:
        exporters = {name: f"{url}/metrics" for name, url in stack.urls.items() if name in UP_METRIC
                     or name in ("node_exporter", "backup", "api")}
        healthy = {name: max(answer_s(url, session) for _ in range(HEALTHY_SAMPLES))
                   for name, url in sorted(exporters.items())}
        down: dict[str, float] = {}
        restart: dict[str, float] = {}
        faults = Faults(stack, session=session)
        for service, exporter in EXPORTER_OF.items():
            if service not in stack.services or exporter not in exporters:
                continue
            fault = faults.crash(service, fault_id=f"measure-{service}")
            with fault:
                down[service] = max(answer_s(exporters[exporter], session) for _ in range(DOWN_SAMPLES))
            restart[service] = wait_reported_up(exporters[exporter], UP_METRIC[exporter], session)
            if not math.isfinite(restart[service]):
                raise RuntimeError(f"{exporter} did not report {service} up within {RESTART_TIMEOUT_S:.0f} s "
                                   "of its restart")
    finally:
        stack.set_time_scale(scale)
    terms = RealTerms(exporter_s=healthy, exporter_down_s=down, restart_s=restart)
    for line in terms.describe():
        log.info("measured: %s", line)
    return terms
