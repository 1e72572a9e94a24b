"""Alertmanager with the chosen config, receivers pointed at the harness's notification sinks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import requests

from harness.errors import HarnessError
from harness.rules.alertmanager import adapt_alertmanager_config
from harness.stack.core.binaries import find_binary
from harness.stack.core.process import ManagedProcess
from harness.stack.core.readiness import HttpReady
from harness.stack.services.plan import LocalPlan

log = logging.getLogger("harness.stack")

# Used only when no config file exists yet: routes everything to a receiver that drops it.
FALLBACK_CONFIG = """\
route:
  receiver: "null"
receivers:
  - name: "null"
"""


def prepare_config(source: Path | None, sinks: Any, time_scale: float) -> str:
    if source is None or not source.is_file():
        log.warning("Alertmanager config %s not found: using a config that drops every notification", source)
        return FALLBACK_CONFIG
    if sinks is None:
        # Loading it as written would send test alerts to the real receivers (or fail on their unset
        # URLs), so without capture sinks every notification is dropped.
        log.warning("no notification sinks: %s is replaced by a config that drops every notification", source)
        return FALLBACK_CONFIG
    return adapt_alertmanager_config(source.read_text(), sinks=sinks.urls, time_scale=time_scale, source=str(source))


def start(plan: LocalPlan) -> ManagedProcess:
    port = plan.ports["alertmanager"]
    home = plan.run_dir / "alertmanager"
    (home / "data").mkdir(parents=True, exist_ok=True)
    config = home / "alertmanager.yml"
    config.write_text(plan.alertmanager_config or FALLBACK_CONFIG)
    argv = [find_binary("prometheus-alertmanager"), f"--config.file={config}", f"--storage.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]
    proc = plan.register(ManagedProcess("alertmanager", argv, plan.ctx, port=port, timeout=plan.timeout,
                                        ready=HttpReady(plan.url("alertmanager", "/-/ready")),
                                        hint=f"check the config with `amtool check-config {config}`"))
    proc.start()
    return proc


def reload(plan: LocalPlan, text: str) -> None:
    """Write a new config and have Alertmanager load it (its timers follow a new time scale)."""
    (plan.run_dir / "alertmanager" / "alertmanager.yml").write_text(text)
    resp = requests.post(plan.url("alertmanager", "/-/reload"), timeout=10)
    if resp.status_code != 200:
        raise HarnessError(f"Alertmanager refused the reload ({resp.status_code}): {resp.text.strip()[:500]}",
                           hint="the previous config stays loaded; check it with `amtool check-config`")
    plan.alertmanager_config = text
