"""Adapt a team's Alertmanager config for a run: endpoints point at the local sinks, timers scale.

Only two kinds of change are made, so the run exercises the team's own routing:
  * endpoints: PagerDuty ``url`` (and the global ``pagerduty_url``; for ``service_key`` (v1) configs,
    whose events Alertmanager sends to a built-in https URL, ``http_config.proxy_url``), Slack ``api_url``, e-mail
    ``smarthost`` (plain SMTP: ``require_tls: false``), webhook ``url`` and the API URL of any other
    integration are pointed at the capture sinks. The receiver's name is written into each URL path so
    the sink knows which receiver a delivery was for; e-mail is mapped back by its ``to`` address
    (recorded in ``SinkUrls.email_receivers``). If no sender address is configured at all Alertmanager
    refuses the file, so ``smtp_from`` is then set to a local placeholder.
  * timers: ``resolve_timeout`` and every route's ``group_wait``, ``group_interval`` and
    ``repeat_interval`` are divided by the time scale. Missing root timers are written out with
    Alertmanager's defaults, scaled, since the defaults would otherwise stay real-time.
Route tree, matchers, grouping, inhibition, templates and time intervals are left as they are.
Alertmanager accepts millisecond timers but refuses 0 for group_interval/repeat_interval, so a scaled
timer is never below 1ms.
"""

from __future__ import annotations

import io
from urllib.parse import quote, urlsplit

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from harness.core.errors import ValidationError
from harness.core.topology import SinkUrls
from harness.core.yamlio import key_line, round_trip_yaml
from harness.rules.timescale import scale_duration

# Alertmanager's built-in defaults (config.go, 0.25).
ROOT_TIMER_DEFAULTS = {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"}
RESOLVE_TIMEOUT_DEFAULT = "5m"
PLACEHOLDER_FROM = "alertmanager@harness.invalid"

# Integrations other than the four with a dedicated sink: the key holding their endpoint.
_OTHER_ENDPOINT_KEYS = {
    "opsgenie_configs": "api_url", "victorops_configs": "api_url", "wechat_configs": "api_url",
    "pushover_configs": "url", "sns_configs": "api_url", "telegram_configs": "api_url",
    "discord_configs": "webhook_url", "webex_configs": "api_url", "msteams_configs": "webhook_url",
}
_GLOBAL_OTHER_URLS = ("opsgenie_api_url", "victorops_api_url", "wechat_api_url", "webex_api_url",
                      "telegram_api_url")






def load_am_yaml(text: str, source: str) -> CommentedMap:
    try:
        doc = round_trip_yaml().load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ValidationError(source, mark.line + 1 if mark is not None else None, "yaml",
                              f"not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(doc, CommentedMap) or not isinstance(doc.get("route"), CommentedMap):
        raise ValidationError(source, 1, "route", "an Alertmanager config needs a top-level `route:`",
                              hint="see https://prometheus.io/docs/alerting/latest/configuration/")
    return doc


def _scale_timer(node: CommentedMap, key: str, scale: float, source: str, where: str) -> None:
    try:
        node[key] = scale_duration(str(node[key]), scale)
    except ValueError as exc:
        raise ValidationError(source, key_line(node, key), f"{where}.{key}", f"{node[key]!r} is not a duration",
                              hint="use e.g. 30s, 5m, 4h") from exc


def _scale_routes(route: CommentedMap, scale: float, source: str, where: str) -> None:
    for key in ("group_wait", "group_interval", "repeat_interval"):
        if key in route:
            _scale_timer(route, key, scale, source, where)
    for i, child in enumerate(route.get("routes") or []):
        if isinstance(child, CommentedMap):
            _scale_routes(child, scale, source, f"{where}.routes[{i}]")


def _pd_path(original: str | None) -> str:
    path = urlsplit(original).path if original else ""
    return path or "/v2/enqueue"


def adapt_alertmanager_config(text: str, *, sinks: SinkUrls, time_scale: float, source: str) -> str:
    """Return the config with endpoints on the local sinks and timers divided by ``time_scale``."""
    if not time_scale > 0:
        raise ValidationError(source, None, "time_scale", f"must be > 0, got {time_scale}")
    doc = load_am_yaml(text, source)
    glob = doc.get("global")
    if glob is None:
        glob = CommentedMap()
        doc.insert(0, "global", glob)
    glob["resolve_timeout"] = scale_duration(str(glob.get("resolve_timeout", RESOLVE_TIMEOUT_DEFAULT)),
                                             time_scale)
    global_pd = str(glob["pagerduty_url"]) if "pagerduty_url" in glob else None
    if "pagerduty_url" in glob:
        glob["pagerduty_url"] = f"{sinks.http_base}/pagerduty/_global{_pd_path(global_pd)}"
    if "slack_api_url" in glob or "slack_api_url_file" in glob:
        glob.pop("slack_api_url_file", None)
        glob["slack_api_url"] = f"{sinks.http_base}/slack/_global"
    for key in _GLOBAL_OTHER_URLS:
        if key in glob:
            glob[key] = f"{sinks.http_base}/other/{key}/_global"

    root = doc["route"]
    for key, default in ROOT_TIMER_DEFAULTS.items():
        if key not in root:
            root[key] = default
    _scale_routes(root, time_scale, source, "route")

    needs_smtp = False
    has_from = "smtp_from" in glob
    sinks.email_receivers.clear()
    for ri, recv in enumerate(doc.get("receivers") or []):
        if not isinstance(recv, CommentedMap) or "name" not in recv:
            raise ValidationError(source, key_line(doc.get("receivers")), f"receivers[{ri}]",
                                  "each receiver needs a name")
        name = str(recv["name"])
        seg = quote(name, safe="")
        for cfg in recv.get("pagerduty_configs") or []:
            original = cfg.get("url", global_pd)
            cfg["url"] = f"{sinks.http_base}/pagerduty/{seg}{_pd_path(original)}"
            if "service_key" in cfg or "service_key_file" in cfg:
                # Alertmanager posts v1 events to a built-in https URL whatever `url` says; an HTTP
                # proxy is the only endpoint it honours for them (see sinks.do_CONNECT).
                http_config = cfg.get("http_config")
                if http_config is None:
                    http_config = CommentedMap()
                    cfg["http_config"] = http_config
                host = sinks.http_base.split("://", 1)[1]
                http_config["proxy_url"] = f"http://{seg}@{host}"
        for cfg in recv.get("slack_configs") or []:
            cfg.pop("api_url_file", None)
            cfg["api_url"] = f"{sinks.http_base}/slack/{seg}"
        for cfg in recv.get("webhook_configs") or []:
            cfg.pop("url_file", None)
            cfg["url"] = f"{sinks.http_base}/webhook/{seg}"
        for cfg in recv.get("email_configs") or []:
            needs_smtp = True
            cfg["smarthost"] = f"{sinks.smtp_host}:{sinks.smtp_port}"
            cfg["require_tls"] = False
            has_from = has_from or "from" in cfg
            for addr in str(cfg.get("to", "")).split(","):
                if addr.strip():
                    sinks.email_receivers.setdefault(addr.strip().lower(), []).append(name)
        for kind, key in _OTHER_ENDPOINT_KEYS.items():
            for cfg in recv.get(kind) or []:
                cfg.pop(f"{key}_file", None)
                cfg[key] = f"{sinks.http_base}/other/{kind.removesuffix('_configs')}/{seg}"
    if needs_smtp:
        glob["smtp_smarthost"] = f"{sinks.smtp_host}:{sinks.smtp_port}"
        glob["smtp_require_tls"] = False
        if not has_from:
            glob["smtp_from"] = PLACEHOLDER_FROM
    buf = io.StringIO()
    round_trip_yaml().dump(doc, buf)
    return buf.getvalue()
