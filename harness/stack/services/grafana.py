"""Grafana, only where a grafana-server binary exists (it is not packaged for this Debian)."""

from __future__ import annotations

from pathlib import Path

import yaml

from harness.config import STACK_DIR
from harness.stack.core.binaries import MissingBinary, find_binary
from harness.stack.core.process import ManagedProcess
from harness.stack.core.readiness import HttpReady
from harness.stack.services.plan import LocalPlan

DASHBOARDS = STACK_DIR / "grafana" / "dashboards"
HOMEPATHS = ("/usr/share/grafana", "/usr/local/share/grafana", "/opt/grafana")


def unavailable_reason() -> str | None:
    try:
        find_binary("grafana-server")
    except MissingBinary as exc:
        return f"grafana-server not found (looked in {exc.detail.removeprefix('looked in: ')}); install Grafana " \
               "from https://apt.grafana.com or use --backend docker"
    return None


def start(plan: LocalPlan) -> ManagedProcess:
    port = plan.ports["grafana"]
    home = plan.run_dir / "grafana"
    prov = home / "provisioning"
    for sub in ("datasources", "dashboards", "plugins", "alerting", "notifiers"):
        (prov / sub).mkdir(parents=True, exist_ok=True)
    (prov / "datasources" / "prometheus.yml").write_text(yaml.safe_dump({
        "apiVersion": 1,
        "datasources": [{"name": "Prometheus", "type": "prometheus", "uid": "prometheus", "access": "proxy",
                         "url": plan.url("prometheus"), "isDefault": True}],
    }))
    (prov / "dashboards" / "harness.yml").write_text(yaml.safe_dump({
        "apiVersion": 1,
        "providers": [{"name": "harness", "type": "file", "options": {"path": str(DASHBOARDS)}}],
    }))
    ini = home / "grafana.ini"
    ini.write_text(
        f"[server]\nhttp_addr = 127.0.0.1\nhttp_port = {port}\n"
        f"[paths]\ndata = {home / 'data'}\nlogs = {home / 'logs'}\nplugins = {home / 'plugins'}\n"
        f"provisioning = {prov}\n"
        "[auth.anonymous]\nenabled = true\norg_role = Admin\n[analytics]\nreporting_enabled = false\n"
        "check_for_updates = false\n"
    )
    homepath = next((h for h in HOMEPATHS if Path(h).is_dir()), str(Path(find_binary("grafana-server")).parents[1]))
    argv = [find_binary("grafana-server"), f"--homepath={homepath}", f"--config={ini}"]
    proc = plan.register(ManagedProcess("grafana", argv, plan.ctx, port=port, timeout=plan.timeout,
                                        ready=HttpReady(plan.url("grafana", "/api/health"))))
    proc.start()
    return proc
