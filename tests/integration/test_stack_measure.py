"""What the harness measures on a running stack before a suite, and the history it backfills, on a real stack."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from harness.core.history import Backfill, History
from harness.core.resolution import deviations
from harness.core.timeline import NOTIFICATION
from harness.observe.prometheus import PrometheusClient
from harness.stack import Stack
from harness.stack.calibration import load_calibration
from harness.stack.measure import PROBE, measure_delivery, measure_rates, warm_up

pytestmark = pytest.mark.integration


def test_alertmanager_delivery_is_timed_with_a_probe_that_reaches_a_receiver(local_stack: Stack) -> None:
    before = len(local_stack.timeline.events())
    delivery = measure_delivery(local_stack, group_wait_s=10.0)   # the reference config's root group_wait
    # Loopback delivery beyond the compressed group_wait: well under a second on an idle stack, never negative.
    assert 0.0 <= delivery < 5.0
    probes = [e for e in local_stack.timeline.events()[before:] if e.kind == NOTIFICATION
              and any(PROBE in (a.get("alertname"), (a.get("labels") or {}).get("alertname"))
                      for a in e.data.get("alerts") or [])]
    assert probes, "no receiver got the probe"


def test_the_load_counts_what_the_checked_in_calibration_says_and_scales_use_the_calibration(
        local_stack: Stack, tmp_path: Path) -> None:
    measured, served = measure_rates(local_stack, tmp_path, seconds=12.0)
    per = measured.per_request
    assert served > 150
    assert sum(v for (name, _), v in per.items() if name == "http_requests_total") == pytest.approx(1.0)
    place = sum(v for (name, labels), v in per.items()
                if name == "query_duration_seconds_count" and ("query_name", "place_bet") in labels)
    # Bet placements are about a quarter of the load mix; each runs the place_bet query once.
    assert 0.1 < place < 0.5
    # Every calibrated series within sampling noise of what this stack counts (a changed API or load profile
    # is not: recalibrate with `python -m harness.stack.measure`).
    calibrated = load_calibration()
    assert deviations(calibrated, measured, served) == []
    rates = warm_up(local_stack, tmp_path, seconds=4.0)
    assert rates is not None
    assert {k: rates.per_request[k] for k in calibrated.per_request} == calibrated.per_request


def test_backfilled_history_and_its_recording_rules_are_queryable(local_stack: Stack) -> None:
    prom = PrometheusClient(local_stack.urls["prometheus"])
    scale = local_stack.time_scale
    now = local_stack.clock.to_wall(local_stack.clock.now())
    plan = Backfill.plan(History(window_s=6 * 3600.0, good_ratio=0.99, rate=10.0), load_rate=30.0, scale=scale,
                         end=now, interval_s=1.0)
    local_stack.backfill(plan.openmetrics(), start=plan.start, end=plan.end, step_s=5.0)
    span = plan.end - plan.start
    got = prom.query(f'sum(increase(http_requests_total{{instance="history"}}[{span:.0f}s]))', at=plan.end)
    total, _ = plan.counts(plan.start, plan.end)
    assert got and got[0].value == pytest.approx(total, rel=0.05)
    bad = prom.query(f'sum(increase(http_requests_total{{instance="history",status=~"5.."}}[{span:.0f}s]))',
                     at=plan.end)
    assert bad and bad[0].value == pytest.approx(total * 0.01, rel=0.05)
    # The reference SLO pack's availability record, evaluated over the history as if it had run all along.
    rules = requests.get(f"{local_stack.urls['prometheus']}/api/v1/rules", timeout=5).json()["data"]["groups"]
    records = {r["name"] for g in rules for r in g["rules"] if r["type"] == "recording"}
    if "slo:api:availability:ratio" not in records:
        pytest.fail(f"the stack's packs have no availability record to backfill; records: {sorted(records)}")
    mid = prom.query("slo:api:availability:ratio", at=plan.start + span / 2)
    assert mid and mid[0].value == pytest.approx(0.99, abs=0.002)
