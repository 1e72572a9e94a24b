"""adapt_alertmanager_config changes only endpoints and timers."""

from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml import YAML

from harness.config import STACK_DIR
from harness.core.errors import ValidationError
from harness.core.topology import SinkUrls
from harness.rules.alertmanager import adapt_alertmanager_config

SEED = (STACK_DIR / "alertmanager" / "alertmanager.yml").read_text()


def _adapt(text: str = SEED, scale: float = 60) -> tuple[Any, SinkUrls]:
    sinks = SinkUrls("http://127.0.0.1:5000", "127.0.0.1", 2525)
    out = adapt_alertmanager_config(text, sinks=sinks, time_scale=scale, source="am.yml")
    return YAML(typ="safe").load(out), sinks


def test_seed_timers_scaled_and_routing_untouched() -> None:
    before = YAML(typ="safe").load(SEED)
    after, _ = _adapt()
    assert after["global"]["resolve_timeout"] == "5s"
    assert (after["route"]["group_wait"], after["route"]["group_interval"], after["route"]["repeat_interval"]) == (
        "167ms", "167ms", "12m")
    for key in ("receiver", "group_by", "routes"):
        assert after["route"][key] == before["route"][key]
    assert after["inhibit_rules"] == before["inhibit_rules"]


def test_only_endpoints_change_in_receivers() -> None:
    before = {r["name"]: r for r in YAML(typ="safe").load(SEED)["receivers"]}
    after, sinks = _adapt()
    for r in after["receivers"]:
        b = before[r["name"]]
        for kind in ("pagerduty_configs", "slack_configs", "email_configs"):
            for c0, c1 in zip(b.get(kind, []), r.get(kind, []), strict=True):
                changed = {k for k in set(c0) | set(c1) if c0.get(k) != c1.get(k)}
                assert changed <= {"url", "api_url", "smarthost", "require_tls", "http_config"}, changed
    recv = {r["name"]: r for r in after["receivers"]}
    assert recv["slack-critical"]["slack_configs"][0]["api_url"] == "http://127.0.0.1:5000/slack/slack-critical"
    pd = recv["pagerduty-critical"]["pagerduty_configs"][0]
    assert pd["url"] == "http://127.0.0.1:5000/pagerduty/pagerduty-critical/v2/enqueue"
    assert pd["http_config"]["proxy_url"] == "http://pagerduty-critical@127.0.0.1:5000"
    assert recv["default"]["email_configs"][0]["smarthost"] == "127.0.0.1:2525"
    assert sinks.email_receivers == {"dbre-team@company.com": ["default"]}


def test_missing_root_timers_get_scaled_defaults() -> None:
    after, _ = _adapt("route:\n  receiver: r\nreceivers:\n  - name: r\n", scale=10)
    assert (after["route"]["group_wait"], after["route"]["group_interval"], after["route"]["repeat_interval"]) == (
        "3s", "30s", "24m")
    assert after["global"]["resolve_timeout"] == "30s"


def test_webhook_and_nested_route_timers() -> None:
    text = ("route:\n  receiver: w\n  routes:\n    - receiver: w\n      group_wait: 1m\n"
            "receivers:\n  - name: w\n    webhook_configs:\n      - url: https://example.com/x\n")
    after, _ = _adapt(text)
    assert after["route"]["routes"][0]["group_wait"] == "1s"
    assert after["receivers"][0]["webhook_configs"][0]["url"] == "http://127.0.0.1:5000/webhook/w"


def test_bad_timer_is_named() -> None:
    with pytest.raises(ValidationError) as err:
        _adapt("route:\n  receiver: r\n  group_wait: soon\nreceivers:\n  - name: r\n")
    assert err.value.line == 3 and "group_wait" in err.value.field


def test_no_route_is_an_error() -> None:
    with pytest.raises(ValidationError) as err:
        _adapt("receivers: []\n")
    assert err.value.field == "route"


def test_reference_placeholders_are_replaced_by_the_sinks() -> None:
    # The shipped reference config carries valid placeholder URLs (so amtool accepts it as shipped); a run
    # must still reach only the local sinks.
    reference = (STACK_DIR / "alertmanager" / "reference.yml").read_text()
    assert ".invalid" in reference
    after, _ = _adapt(reference)
    recv = {r["name"]: r for r in after["receivers"]}
    assert recv["slack-warnings"]["slack_configs"][0]["api_url"] == "http://127.0.0.1:5000/slack/slack-warnings"
    assert after["global"]["smtp_smarthost"] == "127.0.0.1:2525"
    assert ".invalid" not in str(after["receivers"]) and "smtp.example.invalid" not in str(after["global"])
