from pathlib import Path

import pytest

from harness.config import resolve_config
from harness.core.errors import HarnessError
from harness.host.ports import allocate_port
from harness.stack.external import ExternalBackend, attach_external


def test_external_backend_owns_no_processes(tmp_path: Path) -> None:
    cfg = resolve_config({"backend": "external", "prometheus_url": "http://p", "alertmanager_url": "http://a"},
                         env={}, pyproject=tmp_path / "none.toml")
    with pytest.raises(HarnessError, match="external backend attaches by URL") as info:
        ExternalBackend(cfg).process("postgres_primary")
    assert "Hint:" in str(info.value)


def test_unreachable_external_prometheus_fails_naming_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{allocate_port()}"  # nothing listens there
    cfg = resolve_config({"backend": "external", "prometheus_url": url, "alertmanager_url": url},
                         env={}, pyproject=tmp_path / "none.toml")
    with pytest.raises(HarnessError, match=f"external prometheus at {url} is unreachable"):
        attach_external(cfg, clock=None, timeline=None)


def test_external_backend_needs_its_urls(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="Prometheus and Alertmanager URLs"):
        resolve_config({"backend": "external"}, env={}, pyproject=tmp_path / "none.toml")
