"""Receiver roles: what a receiver does, read from its integrations, whatever the team named it.

A receiver with ``pagerduty_configs`` pages someone, one with ``slack_configs`` posts to a chat, and so on.
A receiver with several integrations has several roles; one with none (a black hole) has none. Scenarios
name a role as ``role:pager``; it stands for every receiver of the loaded Alertmanager config with that role.
Pure: no I/O, no adapter imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

ROLE_PREFIX = "role:"

# Alertmanager integration key -> role (integrations as listed by Alertmanager up to 0.28).
ROLE_BY_INTEGRATION: Mapping[str, str] = {
    "pagerduty_configs": "pager", "opsgenie_configs": "pager", "victorops_configs": "pager",
    "incidentio_configs": "pager",
    "slack_configs": "chat", "msteams_configs": "chat", "msteamsv2_configs": "chat", "discord_configs": "chat",
    "telegram_configs": "chat", "webex_configs": "chat", "wechat_configs": "chat", "rocketchat_configs": "chat",
    "mattermost_configs": "chat",
    "email_configs": "email",
    "webhook_configs": "webhook",
    "pushover_configs": "push", "sns_configs": "push",
    "jira_configs": "ticket",
}
ROLES: tuple[str, ...] = tuple(dict.fromkeys(ROLE_BY_INTEGRATION.values()))


def receiver_roles(receiver: Mapping[str, Any]) -> tuple[str, ...]:
    """The roles of one receiver (its ``*_configs`` with at least one entry), in ROLES order."""
    found = {ROLE_BY_INTEGRATION[k] for k, v in receiver.items() if k in ROLE_BY_INTEGRATION and v}
    return tuple(r for r in ROLES if r in found)


def receivers_by_role(receivers: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Role -> names of the receivers with that role, in config order; roles nobody has are absent."""
    out: dict[str, list[str]] = {}
    for recv in receivers:
        for role in receiver_roles(recv):
            out.setdefault(role, []).append(str(recv.get("name")))
    return {role: tuple(names) for role, names in out.items()}


def role_of(ref: str) -> str | None:
    """``"role:pager"`` -> ``"pager"``; a receiver name -> None. The role is not checked (see ``role_problem``)."""
    return ref[len(ROLE_PREFIX):].strip() if ref.startswith(ROLE_PREFIX) else None


def role_problem(ref: str) -> str | None:
    """Why ``ref`` is not a usable role reference, or None (also None for a plain receiver name)."""
    role = role_of(ref)
    if role is None or role in ROLES:
        return None
    return f"unknown role {role!r}: roles are {', '.join(ROLE_PREFIX + r for r in ROLES)}"


def resolve(ref: str, by_role: Mapping[str, Iterable[str]]) -> tuple[str, ...]:
    """The receiver names a reference stands for: itself, or every receiver of the role (maybe none)."""
    role = role_of(ref)
    return (ref,) if role is None else tuple(by_role.get(role, ()))
