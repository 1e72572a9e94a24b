"""The Python routing table agrees with `amtool config routes test` for every alert of the seed packs."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import RULES_DIR, STACK_DIR
from harness.core.topology import SinkUrls
from harness.rules.alertmanager import adapt_alertmanager_config
from harness.rules.check import alert_labels, amtool_check, amtool_receivers, main, routing_table
from harness.rules.packs import load_rules

pytestmark = pytest.mark.integration

SEED_AM = STACK_DIR / "alertmanager" / "alertmanager.yml"
ALERTS = [r for p in sorted(RULES_DIR.glob("*.yml")) for r in load_rules(p).alerts]


@pytest.fixture(scope="module")
def adapted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("am") / "alertmanager.yml"
    sinks = SinkUrls("http://127.0.0.1:9", "127.0.0.1", 25)
    out.write_text(adapt_alertmanager_config(SEED_AM.read_text(), sinks=sinks, time_scale=60, source=str(SEED_AM)))
    assert amtool_check(out).ok
    return out


def test_seed_packs_have_alerts() -> None:
    assert len(ALERTS) >= 20


@pytest.mark.parametrize("rule", ALERTS, ids=lambda r: f"{Path(r.file).stem}:{r.name}")
def test_python_routing_agrees_with_amtool(rule, adapted: Path) -> None:  # type: ignore[no-untyped-def]
    [(_, ours)] = routing_table([rule], SEED_AM.read_text(), str(SEED_AM))
    assert ours == amtool_receivers(adapted, alert_labels(rule))


@pytest.mark.parametrize(("labels", "want"), [
    ({"alertname": "X", "severity": "critical"}, ["pagerduty-critical", "slack-critical"]),
    ({"alertname": "X", "severity": "warning"}, ["slack-warnings"]),
    ({"alertname": "X", "severity": "info"}, ["default"]),
    ({"alertname": "X"}, ["default"]),
])
def test_extra_label_sets_agree(labels: dict[str, str], want: list[str], adapted: Path) -> None:
    from harness.core.routing import build_route, receivers_for
    from harness.rules.alertmanager import load_am_yaml

    root = build_route(load_am_yaml(SEED_AM.read_text(), "seed")["route"])
    assert receivers_for(root, labels) == want == amtool_receivers(adapted, labels)


def test_verbatim_seed_config_fails_amtool_but_adapted_passes(adapted: Path) -> None:
    res = amtool_check(SEED_AM)
    assert not res.ok and "unsupported scheme" in res.output
    assert amtool_check(adapted).ok


def test_harness_check_runs_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["--time-scale", "60"])
    out = capsys.readouterr().out
    assert "ReplicationLagHigh: pg_replication_lag_bytes (NOT EXPORTED by the stack)" in out
    assert "pg_stat_replication_pg_wal_lsn_diff (postgres_exporter 0.11.1)" in out
    assert "amtool says" not in out
    assert rc == 1  # the verbatim seed Alertmanager config does not pass amtool
