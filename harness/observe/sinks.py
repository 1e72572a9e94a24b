"""Local capture sinks that speak each receiver's protocol, so Alertmanager delivers exactly as in production.

One HTTP server answers as PagerDuty (Events API v2 at ``.../v2/enqueue``, v1 at
``.../generic/2010-04-15/create_event.json``), as a Slack incoming webhook and as a plain webhook;
an aiosmtpd server answers as the SMTP smarthost. The receiver's name travels in the URL path
(``/pagerduty/<receiver>/v2/enqueue``, ``/slack/<receiver>``, ``/webhook/<receiver>``,
``/other/<integration>/<receiver>``); e-mail is mapped back to receivers by its recipient address
(``SinkUrls.email_receivers``, filled by ``adapt_alertmanager_config``).

Each delivery becomes a ``Notification`` and a NOTIFICATION event on the timeline (name = receiver).
Validation follows the real services' documented contracts: a PagerDuty v2 event without
``routing_key``/``event_action`` is answered 400 "Event object is invalid" -- which is what a config
that sends v1 events (``service_key``) to the v2 URL gets -- and recorded with ``accepted=False``.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import threading
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from harness.core.clock import RunClock
from harness.core.timeline import DELIVERY_PROBE, NOTIFICATION, Timeline
from harness.core.topology import SinkUrls
from harness.host.ports import allocate_port

HOST = "127.0.0.1"
# Alertmanager's default "__subject" template: "[FIRING:2] AlertName other group values (common labels)".
_SUBJECT_RE = re.compile(r"\[(FIRING|RESOLVED)(?::\d+)?\]\s+(\S+)")


@dataclass(frozen=True)
class Notification:
    receiver: str
    protocol: str                   # pagerduty_v2 | pagerduty_v1 | slack | webhook | email | other:<kind>
    t: float                        # run clock
    status: str                     # firing | resolved | unknown
    alerts: list[dict[str, Any]]    # [{"alertname", "status", "labels"}] as far as the payload tells
    payload: Any                    # the body as the receiver got it (parsed JSON, or the e-mail's parts)
    accepted: bool = True
    response_status: int = 200
    problem: str = ""
    path: str = ""

    @property
    def alertnames(self) -> list[str]:
        return sorted({str(a.get("alertname")) for a in self.alerts if a.get("alertname")})


class NotificationSinks:
    def __init__(self, clock: RunClock, timeline: Timeline, known_alerts: set[str] | None = None) -> None:
        self.clock = clock
        self.timeline = timeline
        # Alert names to look for in free-text payloads (PagerDuty descriptions, Slack titles).
        self.known_alerts: set[str] = set(known_alerts or ()) | {DELIVERY_PROBE}
        self._lock = threading.Lock()
        self._items: list[Notification] = []
        self._http: ThreadingHTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self._smtp: Any = None
        self._urls: SinkUrls | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, host: str = HOST, http_port: int = 0, smtp_port: int = 0) -> SinkUrls:
        """Serve on ``host`` (loopback unless a container needs otherwise); port 0 picks a free one."""
        from aiosmtpd.controller import Controller

        sinks = self

        class Handler(_HttpHandler):
            owner = sinks

        # Port 0 would let the kernel pick, and it may pick a port the stack has just allocated (and released)
        # for a service that has not bound it yet; allocated ports are never handed out twice.
        self._http = ThreadingHTTPServer((host, http_port or allocate_port()), Handler)
        self._http.daemon_threads = True
        self._http_thread = threading.Thread(target=self._http.serve_forever, name="notification-sinks",
                                             daemon=True)
        self._http_thread.start()
        smtp_port = smtp_port or allocate_port()
        self._smtp = Controller(_SmtpHandler(self), hostname=host, port=smtp_port)
        self._smtp.start()
        self._urls = SinkUrls(http_base=f"http://{host}:{self._http.server_address[1]}", smtp_host=host,
                              smtp_port=smtp_port)
        return self._urls

    @property
    def urls(self) -> SinkUrls:
        if self._urls is None:
            raise RuntimeError("NotificationSinks.start() has not been called")
        return self._urls

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None

    def __enter__(self) -> NotificationSinks:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- records ---------------------------------------------------------------------------------
    def notifications(self, receiver: str | None = None) -> list[Notification]:
        with self._lock:
            items = list(self._items)
        return [n for n in items if receiver is None or n.receiver == receiver]

    def record(self, n: Notification) -> None:
        with self._lock:
            self._items.append(n)
        data = asdict(n)
        data.pop("receiver")
        data.pop("t")
        self.timeline.record(n.t, NOTIFICATION, n.receiver, **data)

    def alerts_in_text(self, text: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for m in _SUBJECT_RE.finditer(text):
            found.append({"alertname": m.group(2), "status": m.group(1).lower(), "labels": {}})
        if not found:
            for name in sorted(self.known_alerts):
                if re.search(rf"(?<![\w:]){re.escape(name)}(?![\w:])", text):
                    found.append({"alertname": name, "status": "", "labels": {}})
        uniq = {a["alertname"]: a for a in found}
        return list(uniq.values())

    def email_receiver(self, recipients: list[str]) -> str:
        names: list[str] = []
        for r in recipients:
            for name in self.urls.email_receivers.get(r.strip().lower(), []):
                if name not in names:
                    names.append(name)
        return "|".join(names) if names else f"email:{','.join(recipients)}"


def _texts(value: Any) -> str:
    if isinstance(value, dict):
        return "\n".join(_texts(v) for v in value.values())
    if isinstance(value, list):
        return "\n".join(_texts(v) for v in value)
    return str(value)


class _HttpHandler(BaseHTTPRequestHandler):
    owner: NotificationSinks
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _reply(self, status: int, body: Any, content_type: str = "application/json") -> None:
        raw = (json.dumps(body) if content_type == "application/json" else str(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_CONNECT(self) -> None:
        # Alertmanager sends PagerDuty v1 events (service_key) to a hard-coded https URL and ignores
        # `url`; the adapted config routes them through this address as an HTTP proxy, with the
        # receiver's name as proxy user, so they never leave the machine. The TLS tunnel is refused:
        # the attempt is recorded, its (encrypted) payload is not.
        import base64

        t = self.owner.clock.now()
        auth = self.headers.get("Proxy-Authorization", "")
        receiver = "pagerduty"
        if auth.lower().startswith("basic "):
            try:
                receiver = unquote(base64.b64decode(auth[6:]).decode().split(":", 1)[0]) or receiver
            except ValueError:
                pass
        n = Notification(receiver, "pagerduty_v1", t, "unknown", [], {"connect": self.path}, accepted=False,
                         response_status=502, path=self.path,
                         problem="Alertmanager sends service_key (Events API v1) notifications to the built-in "
                                 "https://events.pagerduty.com/generic/2010-04-15/create_event.json and ignores "
                                 "`url`; use routing_key (Events API v2) to have `url` honoured")
        self.owner.record(n)
        self.send_response(502)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.close_connection = True

    def do_POST(self) -> None:
        t = self.owner.clock.now()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = [unquote(p) for p in self.path.split("?")[0].split("/") if p]
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        if len(parts) >= 2 and parts[0] == "pagerduty":
            self._pagerduty(t, parts[1], "/" + "/".join(parts[2:]), body)
        elif len(parts) == 2 and parts[0] == "slack":
            self._slack(t, parts[1], body)
        elif len(parts) == 2 and parts[0] == "webhook":
            self._webhook(t, parts[1], body)
        elif len(parts) == 3 and parts[0] == "other":
            n = Notification(parts[2], f"other:{parts[1]}", t, "unknown",
                             self.owner.alerts_in_text(_texts(body)), body, path=self.path)
            self.owner.record(n)
            self._reply(200, {"status": "ok"})
        else:
            self._reply(404, {"error": f"no sink at {self.path}"})

    def _pagerduty(self, t: float, receiver: str, path: str, body: Any) -> None:
        owner = self.owner
        if path.startswith("/generic/"):
            ok = isinstance(body, dict) and bool(body.get("service_key")) and body.get("event_type") in (
                "trigger", "acknowledge", "resolve")
            status = {"trigger": "firing", "resolve": "resolved"}.get(
                str(body.get("event_type")) if isinstance(body, dict) else "", "unknown")
            n = Notification(receiver, "pagerduty_v1", t, status, owner.alerts_in_text(_texts(body)), body,
                             accepted=ok, response_status=200 if ok else 400, path=path,
                             problem="" if ok else "v1 event needs service_key and event_type")
            owner.record(n)
            if ok:
                self._reply(200, {"status": "success", "message": "Event processed",
                                  "incident_key": body.get("incident_key", "")})
            else:
                self._reply(400, {"status": "invalid event", "message": "Event object is invalid"})
            return
        errors: list[str] = []
        if not isinstance(body, dict):
            errors.append("body is not a JSON object")
            body_d: dict[str, Any] = {}
        else:
            body_d = body
            if not body_d.get("routing_key"):
                errors.append("'routing_key' is missing or blank")
            if body_d.get("event_action") not in ("trigger", "acknowledge", "resolve"):
                errors.append("'event_action' is missing or invalid")
            if body_d.get("event_action") == "trigger":
                payload = body_d.get("payload") or {}
                for key in ("summary", "source", "severity"):
                    if not payload.get(key):
                        errors.append(f"'payload.{key}' is missing or blank")
        action = body_d.get("event_action") or body_d.get("event_type")
        status = {"trigger": "firing", "resolve": "resolved"}.get(str(action), "unknown")
        protocol = "pagerduty_v1" if "service_key" in body_d else "pagerduty_v2"
        problem = "; ".join(errors)
        if protocol == "pagerduty_v1" and errors:
            problem = ("a v1 event (service_key) was sent to the Events API v2 URL: " + problem)
        n = Notification(receiver, protocol, t, status, owner.alerts_in_text(_texts(body)), body,
                         accepted=not errors, response_status=400 if errors else 202, problem=problem, path=path)
        owner.record(n)
        if errors:
            self._reply(400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors})
        else:
            self._reply(202, {"status": "success", "message": "Event processed",
                              "dedup_key": body_d.get("dedup_key", "")})

    def _slack(self, t: float, receiver: str, body: Any) -> None:
        ok = isinstance(body, dict) and bool(body.get("text") or body.get("attachments") or body.get("blocks"))
        text = _texts(body)
        status = "resolved" if "[RESOLVED" in text else "firing" if "[FIRING" in text else "unknown"
        n = Notification(receiver, "slack", t, status, self.owner.alerts_in_text(text), body, accepted=ok,
                         response_status=200 if ok else 400, problem="" if ok else "no_text", path=self.path)
        self.owner.record(n)
        self._reply(200 if ok else 400, "ok" if ok else "no_text", "text/plain")

    def _webhook(self, t: float, receiver: str, body: Any) -> None:
        alerts: list[dict[str, Any]] = []
        status = "unknown"
        if isinstance(body, dict):
            status = str(body.get("status", "unknown"))
            for a in body.get("alerts") or []:
                labels = dict(a.get("labels") or {})
                alerts.append({"alertname": labels.get("alertname", ""), "status": a.get("status", ""),
                               "labels": labels})
        n = Notification(receiver, "webhook", t, status, alerts, body, path=self.path)
        self.owner.record(n)
        self._reply(200, {"status": "ok"})


class _SmtpHandler:
    def __init__(self, owner: NotificationSinks) -> None:
        self.owner = owner

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        t = self.owner.clock.now()
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        bodies: dict[str, str] = {}
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                bodies[part.get_content_type()] = str(part.get_content())
        subject = str(msg.get("Subject", ""))
        payload = {"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "subject": subject,
                   "headers": {k: str(v) for k, v in msg.items()}, "bodies": bodies}
        status = "resolved" if subject.startswith("[RESOLVED") else "firing" if subject.startswith(
            "[FIRING") else "unknown"
        alerts = self.owner.alerts_in_text(subject) or self.owner.alerts_in_text("\n".join(bodies.values()))
        n = Notification(self.owner.email_receiver(list(envelope.rcpt_tos)), "email", t, status, alerts, payload,
                         path="smtp")
        self.owner.record(n)
        return "250 Message accepted for delivery"
