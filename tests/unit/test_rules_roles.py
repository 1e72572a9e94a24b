"""Receivers by role: the role comes from the integration, whatever the name; scenarios may name role:X."""

from __future__ import annotations

import pytest

from harness.config import STACK_DIR
from harness.core.catalog import load_catalog
from harness.core.context import ValidationContext
from harness.core.model import parse_scenario
from harness.core.result import FAIL, PASS
from harness.core.roles import ROLES, receiver_roles, receivers_by_role, resolve, role_of, role_problem
from harness.core.timeline import NOTIFICATION, Event
from harness.core.verdict import notified
from harness.rules.check import describe_receivers
from harness.scenario.validate import ScenarioInvalid, validate_scenarios
from tests.unit.test_scenario_model import GOOD

REFERENCE_AM = STACK_DIR / "alertmanager" / "reference.yml"

# A community-style config: no receiver is named after what it does.
TEAM = [
    {"name": "oncall", "opsgenie_configs": [{"api_key": "x"}]},
    {"name": "sre-room", "msteams_configs": [{"webhook_url": "https://teams.invalid/x"}]},
    {"name": "both", "victorops_configs": [{"routing_key": "x"}], "discord_configs": [{"webhook_url": "u"}]},
    {"name": "audit", "webhook_configs": [{"url": "https://audit.invalid/"}]},
    {"name": "mail", "email_configs": [{"to": "a@example.invalid"}]},
    {"name": "blackhole"},
]


@pytest.mark.parametrize(("key", "role"), [
    ("pagerduty_configs", "pager"), ("opsgenie_configs", "pager"), ("victorops_configs", "pager"),
    ("slack_configs", "chat"), ("msteams_configs", "chat"), ("discord_configs", "chat"),
    ("telegram_configs", "chat"), ("webex_configs", "chat"), ("email_configs", "email"),
    ("webhook_configs", "webhook"), ("pushover_configs", "push"),
])
def test_role_comes_from_the_integration(key: str, role: str) -> None:
    assert receiver_roles({"name": "anything-at-all", key: [{}]}) == (role,)


def test_several_integrations_several_roles_none_for_a_black_hole() -> None:
    assert receiver_roles(TEAM[2]) == ("pager", "chat")
    assert receiver_roles(TEAM[5]) == ()
    assert receiver_roles({"name": "x", "slack_configs": []}) == ()


def test_receivers_by_role() -> None:
    assert receivers_by_role(TEAM) == {"pager": ("oncall", "both"), "chat": ("sre-room", "both"),
                                       "webhook": ("audit",), "email": ("mail",)}


def test_reference_config_roles_and_check_lines() -> None:
    cat = load_catalog([], REFERENCE_AM)
    assert cat.receivers_by_role == {"email": ("default",), "pager": ("pagerduty-critical",),
                                     "chat": ("slack-critical", "slack-warnings")}
    assert cat.resolve_receivers(["role:chat", "default", "role:webhook"]) == {
        "role:chat": ("slack-critical", "slack-warnings"), "default": ("default",), "role:webhook": ()}
    lines = describe_receivers({"receivers": TEAM})
    assert lines[0].split() == ["oncall", "role:pager", "[opsgenie]"]
    assert "(no role)" in lines[5] and "notifies nobody" in lines[5]


def test_role_references() -> None:
    assert role_of("role:pager") == "pager" and role_of("pagerduty-critical") is None
    assert role_problem("role:pager") is None and role_problem("slack-critical") is None
    assert "unknown role 'sms'" in str(role_problem("role:sms"))
    assert set(ROLES) >= {"pager", "chat", "email", "webhook"}
    assert resolve("role:pager", {"pager": ("a", "b")}) == ("a", "b") and resolve("x", {}) == ("x",)


# The model tests' scenario, with the receivers of its `notified:` expectation (lines 18 and 19) replaced.
SCN = GOOD.replace("receivers: [pagerduty-critical]", "receivers: [RECEIVERS]", 1).replace(
    "not_receivers: [slack-warnings]", "not_receivers: [NOT_RECEIVERS]", 1)

CTX = ValidationContext(alerts=frozenset({"RedisDown", "PostgreSQLDown", "ErrorRateHigh"}),
                        receivers=frozenset(r["name"] for r in TEAM),
                        receiver_roles=receivers_by_role(TEAM))


def _validate(receivers: str, not_receivers: str, ctx: ValidationContext = CTX) -> list[str]:
    text = SCN.replace("[RECEIVERS]", f"[{receivers}]", 1).replace("[NOT_RECEIVERS]", f"[{not_receivers}]")
    try:
        validate_scenarios([parse_scenario(text, file="s.yaml")], ctx)
    except ScenarioInvalid as exc:
        return [str(e) for e in exc.errors]
    return []


def test_roles_validate_against_the_config() -> None:
    assert _validate("role:pager, audit", "role:email") == []
    # A role nobody has may be forbidden (vacuously true) but not expected.
    assert _validate("oncall", "role:push") == []
    [err] = _validate("role:push", "mail")
    assert err.startswith("s.yaml:18: notified.receivers: no receiver of the Alertmanager config has role 'push'")
    assert "roles present: role:chat, role:email, role:pager, role:webhook" in err


def test_unknown_role_names_file_line_field() -> None:
    [err] = _validate("role:pager", "role:sms")
    assert err.startswith("s.yaml:19: notified.not_receivers: unknown role 'sms': roles are role:pager")
    assert "Hint:" in err


def note(t: float, receiver: str, alert: str = "RedisDown") -> Event:
    return Event(t, NOTIFICATION, receiver, {"status": "firing", "alerts": [{"labels": {"alertname": alert}}]})


MEMBERS = {"role:pager": ("oncall", "both"), "role:chat": ("sre-room", "both"), "role:email": ("mail",)}


def test_a_role_is_notified_when_one_of_its_receivers_is() -> None:
    [v] = notified([note(14, "both")], "RedisDown", receivers=["role:pager"], not_receivers=[], since=10,
                   within=5, until=40, members=MEMBERS)
    assert v.status == PASS and v.subject == "role:pager" and "at both" in v.observed
    assert "oncall or both" in v.expected
    [late] = notified([note(16, "oncall")], "RedisDown", receivers=["role:pager"], not_receivers=[], since=10,
                      within=5, until=40, members=MEMBERS)
    assert late.status == FAIL and "late" in late.observed


def test_a_forbidden_role_fails_when_any_of_its_receivers_hears() -> None:
    vs = notified([note(14, "oncall"), note(30, "sre-room")], "RedisDown", receivers=[],
                  not_receivers=["role:chat", "role:email"], since=10, within=5, until=40, members=MEMBERS)
    assert [(v.subject, v.status) for v in vs] == [("role:chat", FAIL), ("role:email", PASS)]
    assert "to sre-room" in vs[0].observed
