"""The Python routing tree (amtool agreement is tested in tests/integration/test_routing_amtool.py)."""

from __future__ import annotations

import pytest

from harness.core.errors import ValidationError
from harness.core.routing import build_route, parse_matcher, receivers_for

TREE = {
    "receiver": "default",
    "routes": [
        {"match": {"severity": "critical"}, "receiver": "pd", "continue": True},
        {"matchers": ['severity="critical"'], "receiver": "slack-crit"},
        {"match_re": {"team": "db.*"}, "routes": [{"matchers": ["env!=prod"], "receiver": "db-dev"}]},
    ],
}


@pytest.mark.parametrize(("labels", "want"), [
    ({"severity": "critical"}, ["pd", "slack-crit"]),
    ({"severity": "warning"}, ["default"]),
    ({"team": "dbre", "env": "dev"}, ["db-dev"]),
    ({"team": "dbre", "env": "prod"}, ["default"]),  # the inheriting parent route delivers
    ({"team": "xdb"}, ["default"]),  # regexes are anchored
])
def test_receivers_for(labels: dict[str, str], want: list[str]) -> None:
    assert receivers_for(build_route(TREE), labels) == want


def test_matcher_parse() -> None:
    m = parse_matcher('team=~"db|cache"')
    assert (m.name, m.op, m.value) == ("team", "=~", "db|cache")
    assert m.matches({"team": "cache"}) and not m.matches({"team": "dbre"})


def test_bad_matcher_is_named() -> None:
    with pytest.raises(ValidationError) as err:
        parse_matcher("not a matcher", "am.yml", 7)
    assert err.value.line == 7


def test_every_route_groups_by() -> None:
    from harness.core.routing import every_route_groups_by

    assert every_route_groups_by({"group_by": ["alertname", "cluster"], "routes": [{"receiver": "x"}]}, "alertname")
    assert every_route_groups_by({"group_by": ["..."]}, "alertname")
    assert not every_route_groups_by({"group_by": ["alertname"], "routes": [{"group_by": ["team"]}]}, "alertname")
    assert not every_route_groups_by({}, "alertname")   # Alertmanager's default: one group for everything
