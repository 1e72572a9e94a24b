"""The fault proxy: a toxiproxy-server binary if installed, else the harness's compatible server."""

from __future__ import annotations

import importlib.util
import shutil

import requests

from harness.core.errors import HarnessError
from harness.stack.core.process import ManagedProcess
from harness.stack.core.readiness import HttpReady
from harness.stack.services.plan import LocalPlan


def command(plan: LocalPlan, port: int) -> list[str]:
    binary = shutil.which("toxiproxy-server")
    if binary:
        return [binary, "-host", "127.0.0.1", "-port", str(port), "-proxy-metrics"]
    if not _module_exists("harness.toxiproxy_server.__main__"):
        raise HarnessError(
            "the fault proxy is not available: no toxiproxy-server binary on PATH and no "
            "harness.toxiproxy_server module in this checkout",
            hint="install Toxiproxy (https://github.com/Shopify/toxiproxy/releases) or update the harness; "
            "every network fault goes through this proxy, so the stack does not start without it",
        )
    return [plan.python, "-m", "harness.toxiproxy_server", "--host", "127.0.0.1", "--port", str(port),
            "--proxy-metrics"]


def start(plan: LocalPlan) -> ManagedProcess:
    port = plan.ports["toxiproxy"]
    proc = plan.register(ManagedProcess("toxiproxy", command(plan, port), plan.ctx, port=port,
                                        timeout=plan.timeout, ready=HttpReady(plan.url("toxiproxy", "/version"))))
    proc.start()
    plan.toxiproxy_metrics = requests.get(plan.url("toxiproxy", "/metrics"), timeout=2).status_code == 200
    return proc


def upstreams(plan: LocalPlan) -> dict[str, int]:
    """proxy name -> the service port it fronts (contract C's proxy names)."""
    p = plan.ports
    return {
        "pg_primary": p["postgres_primary"],
        "pg_replica": p["postgres_replica"],
        "redis": p["redis"],
        "replication": p["postgres_primary"],
        "exporter_pg_primary": p["postgres_primary"],
        "exporter_pg_replica": p["postgres_replica"],
        "exporter_redis": p["redis"],
    }


def create_proxies(plan: LocalPlan) -> dict[str, tuple[str, str]]:
    """Upstreams need not be up yet: Toxiproxy dials them per connection."""
    out = {}
    api = plan.url("toxiproxy")
    for name, upstream in upstreams(plan).items():
        body = {"name": name, "listen": f"127.0.0.1:{plan.proxy_ports[name]}",
                "upstream": f"127.0.0.1:{upstream}", "enabled": True}
        resp = requests.post(f"{api}/proxies", json=body, timeout=5)
        if resp.status_code != 201:
            raise HarnessError(f"the fault proxy refused to create proxy {name!r}: {resp.status_code} "
                               f"{resp.text.strip()[:300]}", detail=f"request: POST {api}/proxies {body}",
                               hint="see logs/toxiproxy.log in the run dir")
        created = resp.json()
        out[name] = (str(created.get("listen", body["listen"])), str(body["upstream"]))
    return out


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False
