"""A synthetic but realistic run, for tests and for previewing the report without a stack.

Two scenarios at time scale 60: a primary-latency fault that the alert catches (pass), and a paused
WAL replay whose replication-lag alert never fires (fail, with evidence). Records are written through
harness.load.records when it is importable, else as a ``.npz`` of the same arrays.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.core.result import FAIL, PASS, ScenarioResult, Verdict
from harness.core.timeline import ALERT_STATE, FAULT_END, FAULT_START, NOTIFICATION, PHASE, Event
from harness.report.model import PANEL_NO_DATA, PANEL_OK, PanelCheck, RunReport

ENDPOINTS = ("/api/active-bets", "/api/bets", "/api/users/{id}/bets", "/api/markets/{id}/exposure")


def write_records(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write request records in the format read_records reads; returns the path written."""
    try:
        from harness.load.records import RecordWriter
    except ImportError:
        path = path.with_suffix(".npz")
        np.savez(path, **arrays)  # type: ignore[arg-type]
        return path
    writer = RecordWriter(path)
    try:
        for i in range(arrays["intended"].size):
            writer.add(float(arrays["intended"][i]), float(arrays["start"][i]), float(arrays["end"][i]),
                       str(arrays["endpoint"][i]), str(arrays["method"][i]), int(arrays["status"][i]),
                       str(arrays["error"][i]), int(arrays["bytes"][i]))
            if i % 2000 == 1999:
                writer.flush()
    finally:
        writer.close()
    return path


def synth_requests(rng: np.random.Generator, mono_start: float, start: float, end: float, rate: float,
                   slow: tuple[float, float] | None = None, slow_s: float = 0.3,
                   error_ratio_in_fault: float = 0.0) -> dict[str, np.ndarray]:
    """Open-loop arrivals at ``rate``/s on the run clock [start, end); slower (and failing) inside ``slow``."""
    n = int((end - start) * rate)
    t = np.sort(rng.uniform(start, end, n))
    lat = rng.lognormal(mean=np.log(0.012), sigma=0.45, size=n)
    status = np.full(n, 200, dtype=np.int64)
    error = np.array([""] * n, dtype=object)
    if slow is not None:
        inside = (t >= slow[0]) & (t < slow[1])
        lat[inside] += rng.gamma(4.0, slow_s / 4.0, inside.sum())
        failing = inside & (rng.uniform(size=n) < error_ratio_in_fault)
        status[failing] = 0
        error[failing] = "timeout"
        lat[failing] = 1.0
    lag = rng.exponential(0.0008, n)
    ep = rng.choice(np.array(ENDPOINTS), n, p=[0.55, 0.15, 0.2, 0.1])
    method = np.where(ep == "/api/bets", "POST", "GET")
    status[(ep == "/api/bets") & (rng.uniform(size=n) < 0.004)] = 500
    return {"intended": t + mono_start, "start": t + lag + mono_start, "end": t + lag + lat + mono_start,
            "endpoint": ep.astype(str), "method": method.astype(str), "status": status,
            "error": error.astype(str), "bytes": rng.integers(200, 4000, n)}


def sample_run(directory: Path, *, run_id: str = "20250101T120000-demo", mono_start: float = 1000.0,
               seed: int = 7) -> RunReport:
    """Build a RunReport whose records and scenario files live in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    scale = 60.0
    s1_file = directory / "primary-latency.yaml"
    s1_file.write_text("name: primary-latency\nduration: 2m\nfaults:\n  - kind: latency\n    target: pg_primary\n"
                       "    start: 30s\n    duration: 50s\n    params: {latency: 300}\nexpect:\n"
                       "  - fires: HighQueryLatency\n    within: 15m\n", encoding="utf-8")
    s2_file = directory / "replica-lag.yaml"
    s2_file.write_text("name: replica-lag\nduration: 100s\nfaults:\n  - kind: pause_wal_replay\n"
                       "    start: 20s\n    duration: 50s\nexpect:\n  - fires: ReplicationLagHigh\n",
                       encoding="utf-8")

    s1 = ScenarioResult(
        name="primary-latency", file=str(s1_file), started=5.0, ended=125.0, time_scale=scale,
        faults=[{"id": "latency-pg_primary", "kind": "latency", "target": "pg_primary", "start": 35.0,
                 "end": 85.0, "params": {"latency": 300}}],
        verdicts=[
            Verdict("fires", "HighQueryLatency", PASS, "firing within 15m (15.0s)", "firing after 13.8s",
                    window=(35.0, 50.0), latency=13.8, min_latency=10.0,
                    evidence={"promql": "histogram_quantile(0.95, rate(query_duration_seconds_bucket[5m])) > 0.1"}),
            Verdict("notified", "database-team", PASS, "notification within 20m", "delivered after 15.6s",
                    window=(35.0, 55.0)),
            Verdict("resolves", "HighQueryLatency", PASS, "inactive within 10m of fault end", "inactive after 6.1s",
                    window=(85.0, 95.0)),
            Verdict("silent", "*", PASS, "no other alert fires", "none fired"),
        ],
        slo=[{"slo": "query1-latency", "objective": "p95 < 5ms", "window": "1h", "ground_truth": 0.0412,
              "prometheus": 0.0385, "difference": 0.0027, "budget_consumed": 0.62,
              "burn_rates": {"5m": 14.8, "1h": 3.1}, "tier": "page", "status": "pass"},
             {"slo": "api-availability", "objective": "99.9%", "window": "30d", "ground_truth": 0.99712,
              "prometheus": 0.99695, "difference": 0.00017, "budget_consumed": 2.88,
              "burn_rates": {"5m": 2.9, "1h": 2.9}, "tier": "ticket", "status": "pass"}],
    )
    s2 = ScenarioResult(
        name="replica-lag", file=str(s2_file), started=130.0, ended=230.0, time_scale=scale,
        faults=[{"id": "pause-wal", "kind": "pause_wal_replay", "target": "postgres_replica", "start": 150.0,
                 "end": 200.0, "params": {}}],
        verdicts=[
            Verdict("fires", "ReplicationLagHigh", FAIL, "firing within 5m (5.0s)", "never fired",
                    window=(150.0, 200.0), min_latency=2.0,
                    evidence={"promql": "pg_replication_lag_bytes > 1e8", "values": [],
                              "note": "the metric pg_replication_lag_bytes does not exist in postgres_exporter "
                                      "0.11; it exports pg_replication_lag (seconds)"}),
            Verdict("silent", "HighErrorRate", PASS, "stays inactive", "inactive throughout"),
        ],
    )
    events = [
        Event(5.0, PHASE, "primary-latency", {"rate": 40}),
        Event(35.0, FAULT_START, "latency-pg_primary", {"kind": "latency", "target": "pg_primary",
                                                         "params": {"latency": 300}}),
        Event(41.0, ALERT_STATE, "HighQueryLatency", {"state": "pending", "labels": {"severity": "critical"}}),
        Event(48.8, ALERT_STATE, "HighQueryLatency", {"state": "firing", "labels": {"severity": "critical"}}),
        Event(50.6, NOTIFICATION, "database-team", {"protocol": "webhook", "status": "firing",
                                                     "alerts": [{"labels": {"alertname": "HighQueryLatency"},
                                                                 "status": "firing"}]}),
        Event(51.2, NOTIFICATION, "pagerduty-critical", {"protocol": "webhook", "status": "firing",
                                                          "alerts": [{"labels": {"alertname": "HighQueryLatency"},
                                                                      "status": "firing"}]}),
        Event(85.0, FAULT_END, "latency-pg_primary", {}),
        Event(91.1, ALERT_STATE, "HighQueryLatency", {"state": "inactive", "labels": {"severity": "critical"}}),
        Event(93.0, NOTIFICATION, "database-team", {"protocol": "webhook", "status": "resolved",
                                                     "alerts": [{"labels": {"alertname": "HighQueryLatency"},
                                                                 "status": "resolved"}]}),
        Event(130.0, PHASE, "replica-lag", {"rate": 30}),
        Event(150.0, FAULT_START, "pause-wal", {"kind": "pause_wal_replay", "target": "postgres_replica",
                                                "params": {}}),
        Event(200.0, FAULT_END, "pause-wal", {}),
    ]
    rec1 = write_records(directory / "primary-latency.rec",
                         synth_requests(rng, mono_start, 5.0, 125.0, 40.0, slow=(35.0, 85.0),
                                        error_ratio_in_fault=0.02))
    rec2 = write_records(directory / "replica-lag.rec", synth_requests(rng, mono_start, 130.0, 230.0, 30.0))
    return RunReport(
        run_id=run_id, kind="audit", time_scale=scale, started_wall=1735732800.0, ended_wall=1735733040.0,
        scenarios=[s1, s2], events=events, records={"primary-latency": rec1, "replica-lag": rec2},
        mono_start=mono_start,
        rule_alerts=["HighQueryLatency", "ReplicationLagHigh", "HighErrorRate", "BackupFailed", "RedisDown",
                     "PostgresDown"],
        receivers=["database-team", "pagerduty-critical", "backend-team", "slack-warnings"],
        findings=[{"scenario": "replica-lag", "expectation": "fires ReplicationLagHigh within 5m",
                   "happened": "never fired; its query returned no series",
                   "likely_cause": "pg_replication_lag_bytes is not exported by postgres_exporter "
                                   "(it exports pg_replication_lag in seconds)"}],
        dashboards=[PanelCheck("Database Overview", "Replication Lag", "A", "pg_replication_lag_bytes",
                               PANEL_NO_DATA, 0, "no series matched"),
                    PanelCheck("Database Overview", "Queries per Second", "A",
                               "sum(rate(pg_stat_database_xact_commit[1m]))", PANEL_OK, 1),
                    PanelCheck("Application Overview", "Request Rate", "A",
                               "sum(rate(http_requests_total[1m])) by (endpoint)", PANEL_OK, 4)],
    )
