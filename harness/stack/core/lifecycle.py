"""Prometheus's and Alertmanager's lifecycle endpoint: ``POST /-/reload`` re-reads the config files and
answers once the reload is done (or refused), so no wait is needed after it."""

from __future__ import annotations

from pathlib import Path

import requests

from harness.core.errors import HarnessError
from harness.stack.core.process import tail


def post_reload(service: str, url: str, log_path: Path | None, hint: str) -> None:
    resp = requests.post(f"{url}/-/reload", timeout=10)
    if resp.status_code != 200:
        raise HarnessError(f"{service} refused the reload ({resp.status_code}): {resp.text.strip()[:500]}",
                           detail=f"last lines of {log_path}:\n{tail(log_path)}" if log_path else "", hint=hint)
