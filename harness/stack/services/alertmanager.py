"""Alertmanager with the chosen config, receivers pointed at the harness's notification sinks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.rules.alertmanager import adapt_alertmanager_config
from harness.stack.core.binaries import find_binary
from harness.stack.core.lifecycle import post_reload
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


def _config_path(plan: LocalPlan) -> Path:
    return plan.run_dir / "alertmanager" / "alertmanager.yml"


def start(plan: LocalPlan) -> ManagedProcess:
    port = plan.ports["alertmanager"]
    home = plan.run_dir / "alertmanager"
    (home / "data").mkdir(parents=True, exist_ok=True)
    config = _config_path(plan)
    config.write_text(plan.alertmanager_config or FALLBACK_CONFIG)
    argv = [find_binary("prometheus-alertmanager"), f"--config.file={config}", f"--storage.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]
    proc = plan.register(ManagedProcess("alertmanager", argv, plan.ctx, port=port, timeout=plan.timeout,
                                        ready=HttpReady(plan.url("alertmanager", "/-/ready")),
                                        hint=f"check the config with `amtool check-config {config}`"))
    proc.start()
    return proc


def reload(plan: LocalPlan, source: Path, sinks: Any) -> None:
    """Load another config into the running Alertmanager (its active alerts and silences are kept)."""
    if not source.is_file():
        raise HarnessError(f"Alertmanager config {source} does not exist", hint="pass an existing file")
    text = prepare_config(source, sinks, plan.time_scale)
    config = _config_path(plan)
    config.write_text(text)
    try:
        post_reload("Alertmanager", plan.url("alertmanager"), plan.ctx.logs_dir / "alertmanager.log",
                    f"the previous config stays loaded; check it with `amtool check-config {source}`")
    except HarnessError:
        config.write_text(plan.alertmanager_config)  # what is loaded, so a restart loads it again
        raise
    plan.alertmanager_config = text
