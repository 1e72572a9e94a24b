"""Ground truth against Prometheus, for one time window, with the difference explained.

Prometheus never sees exactly the requests the generator made in a window:

- **Scrape alignment**: ``increase(x[W])`` at t1 uses the first and last samples inside (t1-W, t1];
  requests ending within one scrape interval of either edge may be in or out. We count those
  requests exactly from ground truth (``edge``).
- **Rate extrapolation**: increase() stretches the sampled span to the window (up to ~2 scrape
  intervals / W of each series' count); and a label set first seen inside the window loses the
  requests before its first scrape (its counter "starts" at a non-zero value). Both are bounded
  from ground truth too (``extrapolation``, ``new_series``).
- **Histogram bucket interpolation**: a latency threshold that is not a bucket bound ``le`` is
  estimated by linear interpolation inside its bucket; any request in that bucket may fall either
  side. Bounded by the ground-truth share in that bucket, and flagged.
- **Client vs server**: requests refused, reset or timed out before reaching the API are never in
  its metrics; client-side availability counts them as bad, server-side cannot.

For a ratio g/n, moving k events changes it by at most k/(n-k); that is the bound we report.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from harness.core.clock import RunClock
from harness.load.records import RequestRecords
from harness.observe.prometheus import PrometheusClient
from harness.slo.math import GOOD_PREDICATES, availability, latency_sli

REQUESTS = "http_requests_total"
DURATION_BUCKET = "http_request_duration_seconds_bucket"


@dataclass(frozen=True)
class SLIComparison:
    name: str
    query: str
    truth: float
    prometheus: float
    bound: float
    note: str = ""

    @property
    def difference(self) -> float:
        return self.prometheus - self.truth

    @property
    def within(self) -> bool:
        return bool(abs(self.difference) <= self.bound + 1e-12)


@dataclass(frozen=True)
class ClientServer:
    client_requests: int
    client_availability: float           # not_5xx, transport errors count as bad
    transport_errors: dict[str, int]     # refused/reset/timeout/other
    responses: int                       # requests that got a status
    server_requests: float               # increase(http_requests_total[W])
    server_availability: float           # from the raw counters

    @property
    def unseen_by_server(self) -> float:
        return self.client_requests - self.server_requests


@dataclass
class CompareReport:
    t_start: float
    t_end: float
    rows: list[SLIComparison] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    client_server: ClientServer | None = None

    def render(self) -> str:
        lines = [f"window {self.t_start:.1f}s .. {self.t_end:.1f}s (run clock)",
                 f"{'SLI':48} {'truth':>10} {'prometheus':>10} {'diff':>10} {'bound':>10}  ok"]
        for r in self.rows:
            lines.append(f"{r.name:48} {r.truth:10.5f} {r.prometheus:10.5f} {r.difference:+10.5f} {r.bound:10.5f}  "
                         f"{'yes' if r.within else 'NO'}  {r.note}")
        if self.client_server is not None:
            cs = self.client_server
            lines.append(f"client: {cs.client_requests} requests, availability {cs.client_availability:.5f}, "
                         f"transport errors {cs.transport_errors}; server: {cs.server_requests:.1f} requests, "
                         f"availability {cs.server_availability:.5f}; unseen by the API: {cs.unseen_by_server:.1f}")
        lines += [f"FLAG: {f}" for f in self.flags]
        return "\n".join(lines)


def ratio_bound(moved: int, total: int) -> float:
    """Largest change of a ratio g/n when ``moved`` events may be added or removed."""
    if total <= 0:
        return float("nan")
    return 1.0 if moved >= total else moved / (total - moved)


def uncertain_events(records: RequestRecords, m0: float, m1: float, scrape_interval_s: float, *,
                     extrapolation: bool = False) -> int:
    """Requests (ending in (m0, m1]) whose presence in ``increase()`` depends on scrape alignment or a
    series' first scrape, counted exactly from ground truth. Extrapolation stretches every series of a
    ratio alike and cancels out of it; pass ``extrapolation=True`` when comparing absolute counts."""
    end = records.end
    inside = (end > m0) & (end <= m1)
    n = int(inside.sum())
    s = scrape_interval_s
    edge = int((inside & ((end <= m0 + s) | (end > m1 - s))).sum())
    stretched = math.ceil(n * min(1.0, 2 * s / max(m1 - m0, 1e-9))) if extrapolation else 0
    new_series = 0
    labels = np.char.add(np.char.add(records.method.astype(str), " " + records.endpoint.astype(str)),
                         " " + records.status.astype(str))
    for label in np.unique(labels[inside]):
        sel = labels == label
        if (sel & (end <= m0)).any():
            continue
        first = end[sel & inside].min()
        new_series += int((sel & inside & (end <= first + s)).sum())
    return edge + stretched + new_series


def _endpoint_selector(endpoints: Sequence[str]) -> str:
    if not endpoints:
        return ""
    paths = sorted({e.split(" ", 1)[-1] for e in endpoints})
    methods = sorted({e.split(" ", 1)[0] for e in endpoints if " " in e})
    parts = ['endpoint=~"' + "|".join(re.escape(p).replace("\\", "\\\\") for p in paths) + '"']
    if methods and len(methods) == len(endpoints):
        parts.append('method=~"' + "|".join(methods) + '"')
    return ",".join(parts)


def _sel(*parts: str) -> str:
    inner = ",".join(p for p in parts if p)
    return "{" + inner + "}" if inner else ""


def _labels(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__") + "}"


def _scalar(prom: PrometheusClient, expr: str, at: float) -> float:
    samples = prom.query(expr, at=at)
    if len(samples) != 1:
        return float("nan")
    return samples[0].value


def histogram_share_le(buckets: dict[float, float], threshold_s: float) -> tuple[float, tuple[float, float] | None]:
    """Share of observations <= threshold from cumulative bucket counts {le: count}; linear inside the
    bucket when the threshold is not a bound (returns that bucket's (lower, upper) then)."""
    les = sorted(buckets)
    total = buckets.get(math.inf, float("nan"))
    if not les or not total or total != total:
        return float("nan"), None
    for le in les:
        if abs(le - threshold_s) <= 1e-12:
            return buckets[le] / total, None
    lower, lower_count = 0.0, 0.0
    for le in les:
        if le > threshold_s:
            if math.isinf(le):
                return lower_count / total, (lower, le)
            est = lower_count + (buckets[le] - lower_count) * (threshold_s - lower) / (le - lower)
            return est / total, (lower, le)
        lower, lower_count = le, buckets[le]
    return lower_count / total, None


def compare_window(records: RequestRecords, prom: PrometheusClient, clock: RunClock, t_start: float, t_end: float,
                   *, scrape_interval_s: float, endpoints: Sequence[str] = (),
                   latency_thresholds_s: Sequence[float] = (),
                   recording_rules: dict[str, tuple[str, float | None, float]] | None = None,
                   client_overhead_s: float = 0.002) -> CompareReport:
    """Compare one window (run-clock seconds) of ground truth with Prometheus.

    ``recording_rules`` maps a recorded series to (sli kind "availability"|"latency", latency
    threshold or None, the rule's own rate window in seconds after time scaling), e.g.
    ``{"slo:api:availability:ratio": ("availability", None, 5.0)}`` for the PetForce pack at scale 60.
    """
    report = CompareReport(t_start, t_end)
    m0, m1 = clock.mono_start + t_start, clock.mono_start + t_end
    at = clock.to_wall(t_end)
    window = max(t_end - t_start, 1e-3)
    w = f"[{max(1, round(window * 1000))}ms]"  # PromQL durations take no decimals
    recs = records.for_endpoints(list(endpoints))
    inside = recs.between(m0, m1)
    responded = inside.select(inside.status > 0)
    n = len(responded)
    ep = _endpoint_selector(endpoints)
    k = uncertain_events(recs.select(recs.status > 0), m0, m1, scrape_interval_s)
    bound = ratio_bound(k, n)

    # Availability from the raw counters (server side: only requests that got a response).
    good = GOOD_PREDICATES["not_5xx"](responded.status, responded.error)
    not_5xx = 'status!~"5.."'
    q_avail = (f"sum(increase({REQUESTS}{_sel(ep, not_5xx)}{w})) / "
               f"sum(increase({REQUESTS}{_sel(ep)}{w}))")
    report.rows.append(SLIComparison("availability (raw counters)", q_avail, availability(good),
                                     _scalar(prom, q_avail, at), bound,
                                     f"{n} responses, {k} uncertain (window edges, new series)"))

    # Latency from the histogram.
    if latency_thresholds_s:
        raw = prom.query(f"sum by (le) (increase({DURATION_BUCKET}{_sel(ep)}{w}))", at=at)
        buckets = {float(s.labels.get("le", "nan")): s.value for s in raw}
        bounds = sorted(b for b in buckets if not math.isinf(b))
        for thr in latency_thresholds_s:
            share, bucket = histogram_share_le(buckets, thr)
            truth = latency_sli(responded.service_time, thr)
            interp = 0
            if bucket is not None:
                lat = responded.service_time
                interp = int(((lat > bucket[0]) & (lat <= bucket[1])).sum())
                report.flags.append(f"latency threshold {thr * 1000:g} ms is not a histogram bucket bound "
                                    f"(buckets: {', '.join(f'{b:g}' for b in bounds)}); Prometheus interpolates "
                                    f"inside ({bucket[0]:g}, {bucket[1]:g}]")
            # The client's clock includes the loopback round trip the server's histogram does not see.
            lat = responded.service_time
            overhead = int(((lat > thr) & (lat <= thr + client_overhead_s)).sum())
            report.rows.append(SLIComparison(
                f"latency <= {thr * 1000:g} ms (histogram)", f"sum by (le) (increase({DURATION_BUCKET}{_sel(ep)}{w}))",
                truth, share, ratio_bound(k + interp + overhead, n),
                "interpolated" if bucket is not None else "exact bucket"))

    # Recording rules, checked against the truth over their own window ending at their evaluation time.
    for rule, (kind, threshold, rule_window_s) in (recording_rules or {}).items():
        samples = prom.query(f"timestamp({rule})", at=at)
        values = prom.query(rule, at=at)
        if not values or not samples:
            report.flags.append(f"recording rule {rule} returned no series at t={t_end:.1f}s "
                                "(expected exactly one)")
            continue
        t_eval_mono = clock.mono_start + clock.from_wall(samples[0].value)
        r0 = t_eval_mono - rule_window_s
        sub = recs.between(r0, t_eval_mono)
        sub = sub.select(sub.status > 0)
        if kind == "availability":
            truth = availability(GOOD_PREDICATES["not_5xx"](sub.status, sub.error))
        else:
            truth = latency_sli(sub.service_time, float(threshold or 0.0))
        k_r = uncertain_events(recs.select(recs.status > 0), r0, t_eval_mono, scrape_interval_s)
        note = f"evaluated at {clock.from_wall(samples[0].value):.1f}s over {rule_window_s:g}s"
        value = values[0].value
        if len(values) > 1:
            # An SLI is one share of all requests; one value per series is something else (a per-endpoint
            # quantile, say): no single number to compare, so it cannot be within any bound.
            value = float("nan")
            shown = "; ".join(f"{_labels(v.labels)} = {v.value:.5g}" for v in values[:6])
            note += f"; returned {len(values)} series, not one ratio: {shown}" + ("; ..." if len(values) > 6 else "")
        row = SLIComparison(f"recording rule {rule}", rule, truth, value, ratio_bound(k_r, len(sub)), note)
        report.rows.append(row)
        if not row.within:
            report.flags.append(f"recording rule {rule} = {row.prometheus:.5f}, ground truth {row.truth:.5f}: "
                                f"difference {row.difference:+.5f} outside its bound {row.bound:.5f}"
                                + (f" ({note})" if len(values) > 1 else ""))

    # Client side against server side.
    client_good = GOOD_PREDICATES["not_5xx"](inside.status, inside.error)
    kinds = {kind: int((inside.error == kind).sum()) for kind in ("refused", "reset", "timeout", "other")}
    server_total = _scalar(prom, f"sum(increase({REQUESTS}{_sel(ep)}{w}))", at)
    report.client_server = ClientServer(len(inside), availability(client_good), kinds, n, server_total,
                                        report.rows[0].prometheus)
    return report
