"""The external backend: attach to an existing stack by URL (game days against staging); start nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import requests

from harness.config import Config
from harness.core.clock import RunClock
from harness.core.errors import HarnessError
from harness.core.timeline import Timeline
from harness.host.runstate import new_run_id
from harness.stack.model import ProcessControl, ServiceInfo, Stack


class ExternalBackend:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    def process(self, name: str) -> ProcessControl:
        raise HarnessError(f"cannot control the process of {name!r}: the external backend attaches by URL and "
                           "owns no processes", hint="use network faults (Toxiproxy) or run the local backend")

    def postgres_dsn(self, role: str, via_proxy: bool) -> str:
        raise HarnessError("the external backend knows no Postgres DSN",
                           hint="service-level Postgres faults need the local or docker backend")

    def redis_url(self, via_proxy: bool) -> str:
        raise HarnessError("the external backend knows no Redis URL",
                           hint="service-level Redis faults need the local or docker backend")

    def reload_rules(self, paths: Sequence[Path]) -> list[Path]:
        raise HarnessError("the external backend does not manage Prometheus's rule files",
                           hint="deploy the rules to the external Prometheus yourself, then reload it")

    def set_time_scale(self, scale: float, job_intervals: Mapping[str, float]) -> None:
        raise HarnessError(f"the external stack's rules and timers are its own; the harness cannot make it run "
                           f"at scale {scale:g}", hint="pass the --time-scale the external stack was deployed "
                           "with (1 for a production-like stack), and drop max_time_scale below it")

    def reload_alertmanager(self, path: Path) -> None:
        raise HarnessError("the external backend does not manage Alertmanager's config",
                           hint="deploy the config to the external Alertmanager yourself, then reload it")

    def backfill(self, openmetrics: str, *, start: float, end: float, step_s: float) -> None:
        raise HarnessError("the external stack's Prometheus history is not the harness's to write (a scenario's "
                           "`history:` backfills it)", hint="run history scenarios on the local backend")

    def teardown(self) -> None:
        return None


def _reachable(url: str, path: str) -> str | None:
    try:
        resp = requests.get(url.rstrip("/") + path, timeout=5)
    except requests.RequestException as exc:
        return f"unreachable ({type(exc).__name__})"
    return None if resp.status_code < 500 else f"answered {resp.status_code}"


def attach_external(cfg: Config, *, clock: RunClock | None, timeline: Timeline | None) -> Stack:
    wanted = {"prometheus": (cfg.prometheus_url, "/-/ready"), "alertmanager": (cfg.alertmanager_url, "/-/ready"),
              "api": (cfg.api_url, "/healthz"), "toxiproxy": (cfg.toxiproxy_url, "/version")}
    services: dict[str, ServiceInfo] = {}
    urls: dict[str, str] = {}
    for name, (url, path) in wanted.items():
        if not url:
            services[name] = ServiceInfo(name, "unavailable", reason="no URL configured")
            continue
        problem = _reachable(url, path)
        if problem and name in ("prometheus", "alertmanager"):
            raise HarnessError(f"external {name} at {url} is {problem}",
                               hint=f"check the URL (HARNESS_{name.upper()}_URL) and that {path} answers")
        services[name] = ServiceInfo(name, "external", url=url.rstrip("/"), reason=problem or "")
        urls[name] = url.rstrip("/")
    return Stack(backend=ExternalBackend(cfg), run_id=new_run_id(), run_dir=Path(cfg.work_root),
                 clock=clock or RunClock(), timeline=timeline if timeline is not None else Timeline(),
                 time_scale=cfg.time_scale, urls=urls, services=services, proxies={}, sinks=None, rule_files=[])
