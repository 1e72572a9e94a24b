"""The docker backend: docker-compose.yml through testcontainers. Fails at once when no engine answers."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.config import REPO_ROOT, Config
from harness.core.clock import RunClock
from harness.core.errors import HarnessError
from harness.core.timeline import Timeline
from harness.core.topology import SinkUrls
from harness.host.runstate import new_run_id
from harness.rules.alertmanager import adapt_alertmanager_config
from harness.stack.model import ProcessControl, ServiceInfo, Stack

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKER_ALERTMANAGER = REPO_ROOT / "stack" / "alertmanager" / "docker.yml"
# The compose network's capture sinks (the `sinks` service): no notification leaves the stack.
SINKS_HTTP, SINKS_HOST, SINKS_SMTP_PORT = "http://sinks:9095", "sinks", 2525

# compose service -> (contract service name, published port, URL scheme or "" for non-HTTP)
PUBLISHED = {
    "postgres-primary": ("postgres_primary", 5432, ""),
    "postgres-replica": ("postgres_replica", 5433, ""),
    "redis": ("redis", 6379, ""),
    "toxiproxy": ("toxiproxy", 8474, "http"),
    "api": ("api", 8000, "http"),
    "backup": ("backup", 9188, "http"),
    "postgres-exporter-primary": ("postgres_exporter_primary", 9187, "http"),
    "postgres-exporter-replica": ("postgres_exporter_replica", 9189, "http"),
    "redis-exporter": ("redis_exporter", 9121, "http"),
    "node-exporter": ("node_exporter", 9100, "http"),
    "prometheus": ("prometheus", 9090, "http"),
    "alertmanager": ("alertmanager", 9093, "http"),
    "grafana": ("grafana", 3000, "http"),
}


def render_docker_alertmanager() -> str:
    """stack/alertmanager/docker.yml: the reference config with its endpoints on the `sinks` service, at real
    time (the docker backend does not compress time). Regenerate with
    ``python -c 'from harness.stack.docker import write_docker_alertmanager as w; w()'``."""
    src = REPO_ROOT / "stack" / "alertmanager" / "reference.yml"
    body = adapt_alertmanager_config(src.read_text(), sinks=SinkUrls(SINKS_HTTP, SINKS_HOST, SINKS_SMTP_PORT),
                                     time_scale=1.0, source=str(src))
    return ("# GENERATED from reference.yml by harness.stack.docker.render_docker_alertmanager (docker backend):\n"
            "# every receiver points at the compose network's `sinks` service. Do not edit by hand.\n" + body)


def write_docker_alertmanager() -> None:
    DOCKER_ALERTMANAGER.write_text(render_docker_alertmanager())


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def ensure_engine(timeout: float = 3.0) -> None:
    """Raise at once, naming the local backend, when no Docker engine answers."""
    try:
        import docker

        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:
        raise HarnessError(
            f"no Docker engine is reachable at {docker_host()}: {type(exc).__name__}",
            detail=str(exc).splitlines()[0] if str(exc) else "",
            hint="the docker backend needs a running Docker engine; the local backend (the default: "
            "`harness up` or `--backend local`) runs the same stack from OS packages without Docker",
        ) from None


class DockerBackend:
    def __init__(self, compose: object) -> None:
        self.compose = compose

    def process(self, name: str) -> ProcessControl:
        raise HarnessError(f"process control of {name!r} is not supported by the docker backend",
                           hint="use the local backend for process faults (crash, freeze, stop, restart)")

    def postgres_dsn(self, role: str, via_proxy: bool) -> str:
        if via_proxy:
            raise HarnessError("proxy ports of the docker backend are not published to the host")
        return f"postgresql://postgres@127.0.0.1:{5432 if role == 'primary' else 5433}/betting"

    def redis_url(self, via_proxy: bool) -> str:
        if via_proxy:
            raise HarnessError("proxy ports of the docker backend are not published to the host")
        return "redis://127.0.0.1:6379/0"

    def reload_rules(self, paths: Sequence[Path]) -> list[Path]:
        raise HarnessError("the docker backend loads stack/prometheus/rules as mounted",
                           hint="edit the files there and POST /-/reload to Prometheus")

    def set_time_scale(self, scale: float, job_intervals: Mapping[str, float]) -> None:
        raise HarnessError(f"the docker backend runs its stack at real time and cannot run at scale {scale:g}",
                           hint="pass --time-scale 1 with --backend docker, or use the local backend")

    def reload_alertmanager(self, path: Path) -> None:
        raise HarnessError("the docker backend loads stack/alertmanager/docker.yml as mounted",
                           hint="edit it there and POST /-/reload to Alertmanager")

    def backfill(self, openmetrics: str, *, start: float, end: float, step_s: float) -> None:
        raise HarnessError("the docker backend cannot backfill history into its Prometheus (a scenario's "
                           "`history:`)", hint="run history scenarios on the local backend")

    def teardown(self) -> None:
        self.compose.stop()  # type: ignore[attr-defined]


def start_docker(cfg: Config, *, clock: RunClock | None, timeline: Timeline | None) -> Stack:
    ensure_engine()
    if cfg.time_scale != 1:
        # The compose stack mounts the rules as written: scheduling faults at another scale on it would
        # judge production-time rules by compressed clocks.
        raise HarnessError(f"the docker backend runs its stack at real time; time scale {cfg.time_scale:g} "
                           f"(from {cfg.sources.get('time_scale', 'default')}) cannot be applied",
                           hint="pass --time-scale 1 with --backend docker, or use the local backend")
    from testcontainers.compose import DockerCompose

    compose = DockerCompose(str(REPO_ROOT), compose_file_name=COMPOSE_FILE.name, build=True, wait=True)
    compose.start()
    services: dict[str, ServiceInfo] = {}
    for name, port, scheme in PUBLISHED.values():
        url = f"{scheme}://127.0.0.1:{port}" if scheme else ""
        services[name] = ServiceInfo(name, "running", port=port, url=url)
    urls = {n: s.url for n, s in services.items() if s.url and n in
            ("prometheus", "alertmanager", "api", "toxiproxy", "backup", "grafana")}
    # Rules are mounted as written: the docker backend runs at real time.
    return Stack(backend=DockerBackend(compose), run_id=new_run_id(), run_dir=REPO_ROOT, clock=clock or RunClock(),
                 timeline=timeline if timeline is not None else Timeline(), time_scale=1.0, urls=urls,
                 services=services, proxies={}, sinks=None, rule_files=[])
