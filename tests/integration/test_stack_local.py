"""The local stack comes up whole: every target up, replica streaming through the proxy, controls work."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
import redis
import requests

from harness.config import RULES_DIR, STACK_DIR
from harness.core.errors import HarnessError
from harness.observe.prometheus import PrometheusClient
from harness.stack import Stack

pytestmark = pytest.mark.integration


def _streaming(stack: Stack) -> int:
    with psycopg.connect(stack.postgres_dsn("primary"), autocommit=True) as conn:
        row = conn.execute("select count(*) from pg_stat_replication "
                           "where application_name = 'replica' and state = 'streaming'").fetchone()
    return int(row[0]) if row else 0


def _wait(predicate, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_every_prometheus_target_reports_up(local_stack: Stack) -> None:
    samples = PrometheusClient(local_stack.urls["prometheus"]).query("up")
    jobs = {s.labels["job"] for s in samples}
    assert {"prometheus", "alertmanager", "postgres", "redis", "node", "api", "backup", "toxiproxy"} <= jobs
    instances = {s.labels["instance"] for s in samples}
    assert {"postgres-primary", "postgres-replica"} <= instances
    assert [s.labels for s in samples if s.value != 1.0] == []


def test_replica_streams_from_the_primary(local_stack: Stack) -> None:
    assert _streaming(local_stack) == 1
    with psycopg.connect(local_stack.postgres_dsn("replica"), autocommit=True) as conn:
        assert conn.execute("select pg_is_in_recovery()").fetchone() == (True,)


def test_replication_goes_through_the_replication_proxy(local_stack: Stack) -> None:
    api = local_stack.urls["toxiproxy"]
    requests.post(f"{api}/proxies/replication", json={"enabled": False}, timeout=5).raise_for_status()
    try:
        assert _wait(lambda: _streaming(local_stack) == 0), "replica kept streaming with its proxy disabled"
    finally:
        requests.post(f"{api}/proxies/replication", json={"enabled": True}, timeout=5).raise_for_status()
    assert _wait(lambda: _streaming(local_stack) == 1), "replica did not reconnect after the proxy came back"


def test_proxied_and_direct_addresses_work(local_stack: Stack) -> None:
    for via_proxy in (False, True):
        with psycopg.connect(local_stack.postgres_dsn("primary", via_proxy=via_proxy)) as conn:
            assert conn.execute("select current_database()").fetchone() == ("betting",)
        assert redis.Redis.from_url(local_stack.redis_url(via_proxy=via_proxy)).ping()
    assert set(local_stack.proxies) == {"pg_primary", "pg_replica", "redis", "replication", "exporter_pg_primary",
                                        "exporter_pg_replica", "exporter_redis"}


def test_redis_has_a_memory_limit(local_stack: Stack) -> None:
    client = redis.Redis.from_url(local_stack.redis_url())
    assert client.config_get("maxmemory")["maxmemory"] == str(64 * 1024 * 1024)


def test_process_control_kill_and_restart(local_stack: Stack) -> None:
    control = local_stack.process("redis_exporter")
    old_pid = control.pid
    control.kill()
    assert not control.running
    control.start()
    assert control.running and control.pid != old_pid
    url = local_stack.services["redis_exporter"].url
    assert requests.get(f"{url}/metrics", timeout=5).status_code == 200


def test_unknown_service_is_a_clear_error(local_stack: Stack) -> None:
    with pytest.raises(HarnessError, match="unknown service 'mysql'"):
        local_stack.process("mysql")


def test_grafana_status_says_why_it_is_unavailable(local_stack: Stack) -> None:
    grafana = local_stack.services["grafana"]
    if grafana.status == "running":
        assert requests.get(f"{grafana.url}/api/health", timeout=5).status_code == 200
    else:
        assert grafana.status == "unavailable"
        assert "grafana-server not found" in grafana.reason


def test_reload_rules_loads_new_files(local_stack: Stack, tmp_path: Path) -> None:
    extra = tmp_path / "extra.yml"
    extra.write_text("groups:\n- name: harness-reload-check\n  rules:\n  - alert: ReloadCheck\n"
                     "    expr: vector(0) > 1\n    for: 5m\n")
    original = sorted(RULES_DIR.glob("*.yml"))
    prom = PrometheusClient(local_stack.urls["prometheus"])
    try:
        local_stack.reload_rules([*original, extra])
        assert "harness-reload-check" in {g["name"] for g in prom.rules()}
    finally:
        local_stack.reload_rules(original)
    assert "harness-reload-check" not in {g["name"] for g in prom.rules()}


def _alertmanager_config(stack: Stack) -> str:
    status = requests.get(f"{stack.urls['alertmanager']}/api/v2/status", timeout=5).json()
    return str(status["config"]["original"])


def test_reload_alertmanager_switches_the_config_without_a_restart(local_stack: Stack, tmp_path: Path) -> None:
    alertmanager = local_stack.process("alertmanager")
    pid = alertmanager.pid
    seed = STACK_DIR / "alertmanager" / "alertmanager.yml"
    try:
        local_stack.reload_alertmanager(STACK_DIR / "alertmanager" / "reference.yml")
        assert "routing_key" in _alertmanager_config(local_stack)
        assert "service_key" not in _alertmanager_config(local_stack)
        broken = tmp_path / "broken.yml"
        broken.write_text("route:\n  receiver: nowhere\nreceivers:\n  - name: somewhere\n")
        with pytest.raises(HarnessError, match="Alertmanager refused the reload") as err:
            local_stack.reload_alertmanager(broken)
        assert "previous config stays loaded" in str(err.value)
        assert "routing_key" in _alertmanager_config(local_stack)
    finally:
        local_stack.reload_alertmanager(seed)
    assert "service_key" in _alertmanager_config(local_stack)
    assert alertmanager.pid == pid and alertmanager.running


def _volume_free(stack: Stack) -> float:
    text = requests.get(stack.services["node_exporter"].url + "/metrics", timeout=5).text
    values = {}
    for line in text.splitlines():
        if 'mountpoint="/var/lib/postgresql"' in line and line.startswith(("node_filesystem_avail_bytes",
                                                                             "node_filesystem_size_bytes")):
            values[line.split("{", 1)[0]] = float(line.rsplit(" ", 1)[1])
    return values["node_filesystem_avail_bytes"] / values["node_filesystem_size_bytes"]


def test_node_exporter_watches_a_data_volume_that_fill_disk_fills_without_touching_the_host(
        local_stack: Stack) -> None:
    from harness.faults import Faults

    host_before = sorted(p.name for p in Path("/var/lib/postgresql").iterdir())
    assert _volume_free(local_stack) > 0.95
    with Faults(local_stack).fill_disk(0.9) as fault:
        assert 0.08 <= _volume_free(local_stack) <= 0.11
        assert fault.filler is not None and fault.filler.startswith("/proc/")
        assert sorted(p.name for p in Path("/var/lib/postgresql").iterdir()) == host_before
    assert _volume_free(local_stack) > 0.95
