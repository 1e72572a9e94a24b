"""Measure the stack's incompressible real terms before a suite (harness.core.timing.RealTerms).

Each exporter's answer time healthy; for each service an exporter watches, how long that exporter takes to
answer while the service is crashed, and how long after the crash ends it reports the service up again.
Measured with Prometheus scraping at real time (scale 1), so the exporters answer us rather than a queue
of compressed scrapes, then the stack goes back to the scale it had.

Run as ``python -m harness.stack.measure``, it calibrates the load's event rates (harness.stack.calibration).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

from harness.config import resolve_config
from harness.core.resolution import EventRates, deviations, filled, rates_from_counts
from harness.core.timeline import DELIVERY_PROBE, MARK, NOTIFICATION
from harness.core.timing import EXPORTER_OF, PRODUCTION_SCRAPE_TIMEOUT_S, RealTerms
from harness.faults import Faults
from harness.load import run_load
from harness.load.profile import profile_from_spec
from harness.stack import start_stack
from harness.stack.calibration import CALIBRATION, calibration_doc, load_calibration
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
WARM_UP_S = 20.0
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


def measure_rates(stack: Stack, records_dir: Path, seconds: float = WARM_UP_S) -> tuple[EventRates, float]:
    """Steady load on the API for ``seconds``; what each of its counters counted per request meanwhile, and
    over how many requests."""
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
    served = sum(v - before.get(k, 0.0) for k, v in after.items() if k[0] == "http_requests_total")
    return rates_from_counts(before, after, served), served


def warm_up(stack: Stack, records_dir: Path, seconds: float = WARM_UP_S,
            calibrated: EventRates | None = None) -> EventRates | None:
    """Steady load on the API, so the first scenario meets a warm stack. Returns the event rates the
    scenarios' scales are computed from: the checked-in calibration (harness.stack.calibration), which this
    measurement is compared with, and the measured share of any series it lacks."""
    if "api" not in stack.urls:
        return None
    stack.timeline.record(stack.clock.now(), MARK, "warm_up", seconds=seconds)
    measured, served = measure_rates(stack, records_dir, seconds)
    calibrated = calibrated if calibrated is not None else load_calibration()
    off = deviations(calibrated, measured, served)
    lacking = sorted(f"{name}{dict(labels)}" for (name, labels), share in measured.per_request.items()
                     if share > 0 and (name, labels) not in calibrated.per_request)
    if off or lacking:
        log.warning("the warm-up's %.0f requests differ from the calibrated event rates (%s); scales use "
                    "the calibration: %s", served, CALIBRATION, "; ".join(off + [f"{s}: not calibrated, measured"
                                                                         for s in lacking]))
        stack.timeline.record(stack.clock.now(), MARK, "rates_off_calibration", requests=served,
                              deviations=off, not_calibrated=lacking)
    log.info("event rates: %d series calibrated (%s), the warm-up measured %.0f requests", len(calibrated.per_request),
             CALIBRATION.name, served)
    return filled(calibrated, measured)


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


CALIBRATION_S = 240.0
CALIBRATION_SCALE = 10.0   # the scale a suite's stack starts and warms up at (harness.scenario.run.START_SCALE)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness.stack.measure",
                                description="Measure the reference load's event rates on a local stack and "
                                            "write them where every suite reads them (harness.stack.calibration).")
    p.add_argument("--seconds", type=float, default=CALIBRATION_S, help="seconds of steady load measured")
    p.add_argument("--out", type=Path, default=CALIBRATION)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory(prefix="harness-calibration-") as records, \
            start_stack(resolve_config({"backend": "local", "time_scale": CALIBRATION_SCALE})) as stack:
        rates, served = measure_rates(stack, Path(records), seconds=args.seconds)
    args.out.write_text(json.dumps(calibration_doc(rates, requests=served, seconds=args.seconds,
                                                   load_rate=WARM_UP_RATE), indent=1) + "\n")
    print(f"{args.out}: {len(rates.per_request)} series over {served:.0f} requests")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
