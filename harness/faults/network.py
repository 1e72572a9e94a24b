"""Network faults through the Toxiproxy HTTP API: any toxic on any proxy, and a proxy taken down.

Works against the project's own server (harness.toxiproxy_server) and a real toxiproxy-server alike,
because it speaks only the documented 2.x API.

Why raw HTTP and not the toxiproxy-python client: that client keeps host and port as class attributes
(two stacks in one process would share them, and a test cannot inject a session), sends requests without
a timeout (a frozen proxy would hang the scenario forever), lets 5xx replies pass silently, discards the
created toxic, and has no toxic update (PATCH). The integration tests use it as an independent observer
to confirm that what we set is what a stock client sees.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Mapping
from typing import Any

import requests

from harness.core.errors import HarnessError
from harness.core.protocols import FaultTarget
from harness.core.timeline import MARK
from harness.faults.fault import Fault, FaultError

# Never "Mozilla/...": the real server answers browsers with 403.
USER_AGENT = "harness-faults/0.1"
HTTP_TIMEOUT_S = 5.0

_toxic_seq = itertools.count(1)


class ToxiproxyApi:
    """The few Toxiproxy endpoints faults need, over an injectable ``requests.Session``."""

    def __init__(self, base_url: str, session: requests.Session | None = None,
                 timeout: float = HTTP_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session if session is not None else requests.Session()
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        self.timeout = timeout

    def _send(self, method: str, path: str, body: Any = None) -> requests.Response:
        url = self.base_url + path
        try:
            return self.session.request(method, url, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise HarnessError(f"Toxiproxy API unreachable: {method} {url}", detail=str(exc),
                               hint="is the stack's toxiproxy service running? (stack.urls['toxiproxy'])") from exc

    def _call(self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = (200, 201, 204),
              missing_ok: bool = False) -> Any:
        resp = self._send(method, path, body)
        if resp.status_code == 404 and missing_ok:
            return None
        if resp.status_code not in ok:
            raise HarnessError(f"Toxiproxy API refused {method} {path}: HTTP {resp.status_code}",
                               detail=f"request: {json.dumps(body)}\nreply: {resp.text.strip()[:500]}",
                               hint=_hint_for(resp.status_code))
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            return resp.text

    def proxies(self) -> dict[str, Any]:
        return dict(self._call("GET", "/proxies") or {})

    def proxy(self, name: str) -> dict[str, Any]:
        found = self._call("GET", f"/proxies/{name}", missing_ok=True)
        if found is None:
            known = ", ".join(sorted(self.proxies())) or "(none)"
            raise HarnessError(f"proxy {name!r} not found on Toxiproxy at {self.base_url}",
                               detail=f"proxies there: {known}", hint="check the fault's target")
        return dict(found)

    def set_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        # PATCH is the 2.6+ spelling; POST is what every 2.x server (and the stock client) accepts.
        try:
            return dict(self._call("PATCH", f"/proxies/{name}", {"enabled": enabled}))
        except HarnessError as exc:
            if "HTTP 405" not in exc.what:
                raise
            return dict(self._call("POST", f"/proxies/{name}", {"enabled": enabled}))

    def add_toxic(self, proxy: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", f"/proxies/{proxy}/toxics", dict(body)))

    def update_toxic(self, proxy: str, toxic: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self._call("PATCH", f"/proxies/{proxy}/toxics/{toxic}", dict(body)))

    def remove_toxic(self, proxy: str, toxic: str) -> bool:
        """True if removed, False if it was already gone (a reset, a deleted proxy)."""
        resp = self._send("DELETE", f"/proxies/{proxy}/toxics/{toxic}")
        if resp.status_code == 404:
            return False
        if resp.status_code not in (200, 204):
            raise HarnessError(f"Toxiproxy API refused DELETE /proxies/{proxy}/toxics/{toxic}: "
                               f"HTTP {resp.status_code}", detail=resp.text.strip()[:500])
        return True


def _hint_for(status: int) -> str:
    return {
        400: "a toxic attribute or stream is wrong; see the reply",
        404: "unknown proxy or toxic name",
        409: "a toxic with that name already exists on the proxy; give another name",
    }.get(status, "see the reply body")


class ToxicFault(Fault):
    """One toxic on one proxy; removed at the end."""

    kind = "toxic"

    def __init__(self, target: FaultTarget, api: ToxiproxyApi, *, fault_id: str, proxy: str, toxic_type: str,
                 stream: str = "downstream", toxicity: float = 1.0, name: str | None = None,
                 attributes: Mapping[str, int] | None = None) -> None:
        attrs = dict(attributes or {})
        super().__init__(target, fault_id=fault_id, target_name=proxy,
                         params={"type": toxic_type, "stream": stream, "toxicity": toxicity, **attrs})
        self.api = api
        self.proxy = proxy
        self.toxic_type = toxic_type
        self.stream = stream
        self.toxicity = toxicity
        self.attributes = attrs
        # Unique by default (also across harness processes sharing one Toxiproxy, e.g. a game day), so two
        # faults with the same type and stream can share a proxy.
        self.toxic_name = name or f"harness_{toxic_type}_{stream}_{os.getpid()}_{next(_toxic_seq)}"
        if name:
            self.params["name"] = name

    def _apply(self) -> Mapping[str, Any]:
        created = self.api.add_toxic(self.proxy, {
            "name": self.toxic_name, "type": self.toxic_type, "stream": self.stream,
            "toxicity": self.toxicity, "attributes": self.attributes,
        })
        return {"toxic": created}

    def _undo(self) -> Mapping[str, Any]:
        self.api.remove_toxic(self.proxy, self.toxic_name)
        return {}

    def update(self, toxicity: float | None = None, **attributes: int) -> dict[str, Any]:
        """Change a live toxic (e.g. ramp latency in a drill); merged over the current attributes."""
        if not self.active:
            raise FaultError(f"{self.describe()} is not active; nothing to update")
        body: dict[str, Any] = {"attributes": attributes}
        if toxicity is not None:
            body["toxicity"] = toxicity
        updated = self.api.update_toxic(self.proxy, self.toxic_name, body)
        self.attributes.update(attributes)
        if toxicity is not None:
            self.toxicity = toxicity
        self._record(self.clock.now(), MARK, {"action": "toxic_update", "toxic": updated})
        return updated


class ProxyDownFault(Fault):
    """``enabled: false`` on a proxy: new connections refused, open ones closed; re-enabled at the end."""

    kind = "proxy_down"

    def __init__(self, target: FaultTarget, api: ToxiproxyApi, *, fault_id: str, proxy: str) -> None:
        super().__init__(target, fault_id=fault_id, target_name=proxy, params={})
        self.api = api
        self.proxy = proxy
        self._was_enabled = True

    def _apply(self) -> Mapping[str, Any]:
        self._was_enabled = bool(self.api.proxy(self.proxy).get("enabled", True))
        self.api.set_enabled(self.proxy, False)
        return {"was_enabled": self._was_enabled}

    def _undo(self) -> Mapping[str, Any]:
        if self._was_enabled:
            self.api.set_enabled(self.proxy, True)
        return {}
