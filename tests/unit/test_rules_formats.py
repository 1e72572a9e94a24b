"""Rule file formats normalise to plain Prometheus groups once: PrometheusRule, mimirtool, namespace maps,
Thanos; every loader (packs, time-scale rewrite, catalog, the Prometheus service) accepts them."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import RULES_DIR
from harness.core.catalog import load_catalog
from harness.core.errors import ValidationError
from harness.core.rule_formats import MIMIRTOOL, NAMESPACE_MAP, PLAIN, PROMETHEUS_RULE, THANOS, normalise_rules
from harness.rules.check import describe_pack
from harness.rules.packs import load_rules, parse_rules
from harness.rules.timescale import rewrite_rules
from harness.stack.services.prometheus import prepare_rules

K8S = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: unrelated
data: {}
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: postgres
spec:
  groups:
    - name: db
      rules:
        - alert: PostgresqlDown
          expr: pg_up == 0
          for: 5m
          labels:
            severity: page
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: redis
spec:
  groups:
    - name: db
      limit: 10
      rules:
        - record: job:redis_up:sum
          expr: sum by (job) (redis_up)
        - alert: RedisDown
          expr: redis_up == 0
          for: 1m
"""

MIMIR = """\
namespace: team-db
groups:
  - name: db
    interval: 1m
    source_tenants: [a, b]
    evaluation_delay: 1m
    query_offset: 30s
    rules:
      - alert: PostgresqlDown
        expr: rate(pg_xact_commit_total[5m]) == 0
        for: 10m
"""

NAMESPACES = """\
team-db:
  - name: db
    rules:
      - alert: PostgresqlDown
        expr: pg_up == 0
team-cache:
  - name: db
    rules:
      - alert: RedisDown
        expr: redis_up == 0
"""

THANOS_FILE = """\
groups:
  - name: db
    partial_response_strategy: warn
    rules:
      - alert: PostgresqlDown
        expr: pg_up == 0
"""


def test_plain_file_is_plain_and_has_no_notes() -> None:
    pack = load_rules(RULES_DIR / "reference.yml")
    assert pack.format == PLAIN and pack.notes == ()


def test_prometheusrule_documents_become_groups_with_their_lines() -> None:
    pack = parse_rules(K8S, "k8s.yml")
    assert pack.format == PROMETHEUS_RULE
    assert [g.name for g in pack.groups] == ["db", "redis/db"]
    assert [r.name for r in pack.alerts] == ["PostgresqlDown", "RedisDown"] and len(pack.records) == 1
    # Lines are those of the user's file, across documents.
    assert pack.alert("PostgresqlDown").line == 15 and pack.alert("RedisDown").line == 32
    assert any("not a PrometheusRule: skipped" in n and "ConfigMap" in n for n in pack.notes)
    assert any("renamed 'redis/db'" in n for n in pack.notes)
    assert any("kept `limit` in group(s) redis/db" in n for n in pack.notes)


def test_kubernetes_list_of_prometheusrules() -> None:
    items = K8S.split("---\n")[1].replace("\n", "\n    ")
    text = f"apiVersion: v1\nkind: List\nitems:\n  - {items.rstrip()}\n"
    pack = parse_rules(text, "list.yml")
    assert pack.format == PROMETHEUS_RULE and [r.name for r in pack.alerts] == ["PostgresqlDown"]
    assert pack.alert("PostgresqlDown").for_s == 300


def test_mimirtool_file_drops_ruler_fields_with_a_note() -> None:
    pack = parse_rules(MIMIR, "mimir.yml")
    assert pack.format == MIMIRTOOL
    assert pack.groups[0].interval_s == 60
    dropped = {n.split("`")[1] for n in pack.notes if n.startswith("dropped")}
    assert dropped == {"source_tenants", "evaluation_delay", "query_offset"}
    assert describe_pack(pack)[0] == f"{MIMIRTOOL}: 1 group(s), 1 alerting rule(s), 0 recording rule(s)"


def test_namespace_map_renames_clashing_groups() -> None:
    pack = parse_rules(NAMESPACES, "ns.yml")
    assert pack.format == NAMESPACE_MAP
    assert [g.name for g in pack.groups] == ["db", "team-cache/db"]


def test_thanos_file_is_recognised() -> None:
    pack = parse_rules(THANOS_FILE, "thanos.yml")
    assert pack.format == THANOS
    assert [n.split("`")[1] for n in pack.notes] == ["partial_response_strategy"]


def test_plain_text_is_a_plain_prometheus_file() -> None:
    plain = normalise_rules(K8S, "k8s.yml").plain_text()
    again = parse_rules(plain, "plain.yml")
    assert again.format == PLAIN and again.notes == ()
    assert [g.name for g in again.groups] == ["db", "redis/db"]
    assert "spec" not in plain and "apiVersion" not in plain


def test_time_scale_rewrite_accepts_every_format() -> None:
    out = parse_rules(rewrite_rules(MIMIR, 10, scrape_interval_s=1, source="mimir.yml"), "out.yml")
    assert out.format == PLAIN and out.groups[0].interval_s == 6
    assert out.alert("PostgresqlDown").for_s == 60 and "[30s]" in out.alert("PostgresqlDown").expr
    k8s = parse_rules(rewrite_rules(K8S, 60, scrape_interval_s=0.25, source="k8s.yml"), "out.yml")
    assert k8s.alert("PostgresqlDown").for_s == 5 and k8s.alert("RedisDown").for_s == 1


def test_prometheus_service_writes_plain_files(tmp_path: Path) -> None:
    src = tmp_path / "k8s.yml"
    src.write_text(K8S)
    [written] = prepare_rules([src], tmp_path / "out", 60, 0.25)
    assert parse_rules(written.read_text(), str(written)).format == PLAIN


def test_catalog_accepts_every_format(tmp_path: Path) -> None:
    paths = []
    for name, text in (("k8s.yml", K8S), ("mimir.yml", MIMIR), ("ns.yml", NAMESPACES)):
        (tmp_path / name).write_text(text)
        paths.append(tmp_path / name)
    cat = load_catalog(paths)
    assert set(cat.alerts) == {"PostgresqlDown", "RedisDown"}
    assert cat.alerts["PostgresqlDown"].labels == {"severity": "page"}
    assert cat.records == {"job:redis_up:sum"}


@pytest.mark.parametrize(("text", "line", "field", "problem"), [
    (MIMIR.replace("    interval: 1m\n", "    intervl: 1m\n"), 4, "group 'db': intervl", "unknown group field"),
    (K8S.replace("spec:\n  groups:", "spec:\n  rulez:", 1), 11, "PrometheusRule 'postgres': spec.groups",
     "missing"),
    ("groups:\n  name: g\n", 1, "groups", "must be a list"),
    ("- a\n- b\n", 1, "document 1", "must be a mapping"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n", 1, "kind", "no PrometheusRule"),
    ("", 1, "groups", "empty"),
    ("groups: []\nrules: []\n", 2, "rules", "unknown top-level field"),
    ("foo: 1\n", 1, "groups", "top-level `groups:`"),
])
def test_errors_name_file_line_field(text: str, line: int, field: str, problem: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_rules(text, "bad.yml")
    assert (err.value.file, err.value.line, err.value.field) == ("bad.yml", line, field)
    assert problem in err.value.problem and err.value.hint
