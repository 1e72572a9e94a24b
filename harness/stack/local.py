"""The local backend: every service a child process from the OS packages, in a per-run directory."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.config import Config
from harness.core.clock import RunClock
from harness.core.errors import HarnessError
from harness.core.timeline import Timeline
from harness.host.ports import allocate_ports
from harness.host.runstate import RunContext, kill_run_processes, pids_of_run, sweep_dead_runs
from harness.observe.sinks import NotificationSinks
from harness.rules.packs import load_rules
from harness.stack.core.binaries import find_binary
from harness.stack.core.identity import ensure_traversable, service_identity
from harness.stack.core.process import ManagedProcess
from harness.stack.core.reaper import Reaper, start_reaper
from harness.stack.core.steps import Step, run_steps
from harness.stack.model import PROXY_NAMES, SERVICE_NAMES, ProcessControl, ServiceInfo, Stack
from harness.stack.services import alertmanager, api, exporters, grafana, postgres, prometheus, redis, toxiproxy
from harness.stack.services.plan import LocalPlan

log = logging.getLogger("harness.stack")

REQUIRED_BINARIES = ("postgres", "initdb", "pg_basebackup", "redis-server", "prometheus", "prometheus-alertmanager",
                     "prometheus-postgres-exporter", "prometheus-redis-exporter", "prometheus-node-exporter")


class LocalBackend:
    def __init__(self, plan: LocalPlan, sinks: Any) -> None:
        self.plan = plan
        self.sinks = sinks
        self.reaper: Reaper | None = None

    def process(self, name: str) -> ProcessControl:
        proc = self.plan.processes.get(name)
        if proc is None:
            raise HarnessError(f"service {name!r} is not running in this stack",
                               hint="`harness status` shows which services are unavailable and why")
        return proc

    def postgres_dsn(self, role: str, via_proxy: bool) -> str:
        port = self.plan.proxy_ports[f"pg_{role}"] if via_proxy else self.plan.ports[f"postgres_{role}"]
        return postgres.dsn(port)

    def redis_url(self, via_proxy: bool) -> str:
        port = self.plan.proxy_ports["redis"] if via_proxy else self.plan.ports["redis"]
        return f"redis://127.0.0.1:{port}/0"

    def reload_rules(self, paths: Sequence[Path]) -> list[Path]:
        plan = self.plan
        plan.rule_sources = list(paths)
        files = prometheus.prepare_rules(paths, plan.run_dir / "prometheus" / "rules", plan.time_scale,
                                         plan.scrape_interval_s())
        prometheus.reload(plan.url("prometheus"), plan.ctx.logs_dir / "prometheus.log")
        plan.rule_files = files
        if self.sinks is not None:  # so the sinks recognise the new pack's alerts in free-text payloads
            self.sinks.known_alerts |= {rule.name for src in paths for rule in load_rules(src).alerts}
        return files

    def set_time_scale(self, scale: float, job_intervals: Mapping[str, float]) -> None:
        """Rewrite the rules, the scrape and evaluation intervals and Alertmanager's timers for ``scale`` and
        reload both: no restart, so the stack (and its warm caches and pools) stays as it is."""
        plan = self.plan
        plan.time_scale = scale
        plan.job_intervals = dict(job_intervals)
        prometheus.write_config(plan)
        self.reload_rules(plan.rule_sources)
        if plan.alertmanager_source is not None:
            alertmanager.reload(plan, plan.alertmanager_source, self.sinks)

    def reload_alertmanager(self, path: Path) -> None:
        alertmanager.reload(self.plan, path, self.sinks)
        self.plan.alertmanager_source = path

    def backfill(self, openmetrics: str, *, start: float, end: float, step_s: float) -> None:
        prometheus.backfill(self.plan, openmetrics, start=start, end=end, step_s=step_s)

    def teardown(self) -> None:
        """Reverse start order, best effort per service; the first error is raised after all ran."""
        plan = self.plan
        plan.ctx.cancelled.set()
        errors: list[BaseException] = []
        for name in reversed(plan.started):
            proc = plan.processes.get(name)
            if proc is None:
                continue
            try:
                proc.stop(timeout=10)
            except Exception as exc:
                log.error("stopping %s failed: %s", name, exc)
                errors.append(exc)
        if self.sinks is not None:
            try:
                self.sinks.stop()
            except Exception as exc:
                errors.append(exc)
        # The reaper carries the run id too; it stays until everything else is gone, then is released.
        spare = (self.reaper.pid,) if self.reaper is not None else ()
        leftovers = [p for p in pids_of_run(plan.ctx.run_id) if p not in spare]
        if leftovers:
            log.warning("killing %d leftover process(es) of run %s: %s", len(leftovers), plan.ctx.run_id, leftovers)
            kill_run_processes(plan.ctx.run_id, leftovers, spare=spare)
        plan.ctx.remove()
        if self.reaper is not None:
            try:
                self.reaper.release()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


def _allocate(cfg: Config) -> tuple[dict[str, int], dict[str, int]]:
    ports = allocate_ports(len(SERVICE_NAMES) + len(PROXY_NAMES))
    return dict(zip(SERVICE_NAMES, ports, strict=False)), dict(zip(PROXY_NAMES, ports[len(SERVICE_NAMES):],
                                                                    strict=True))


def start_local(cfg: Config, *, rules: Sequence[Path] | None, alertmanager_config: Path | None,
                clock: RunClock | None, timeline: Timeline | None) -> Stack:
    clock = clock or RunClock()
    timeline = timeline if timeline is not None else Timeline()
    work_root = Path(cfg.work_root)
    work_root.mkdir(parents=True, exist_ok=True)
    sweep_dead_runs(work_root)

    # Everything that can be checked without starting a process is checked first.
    for name in REQUIRED_BINARIES:
        find_binary(name)
    rule_sources = [Path(p) for p in rules] if rules is not None else cfg.rule_files
    am_source = Path(alertmanager_config or cfg.alertmanager_config)
    grafana_reason = grafana.unavailable_reason()

    ctx = RunContext(work_root)
    ports, proxy_ports = _allocate(cfg)
    plan = LocalPlan(cfg=cfg, ctx=ctx, run_as=None, ports=ports, proxy_ports=proxy_ports,
                     time_scale=cfg.time_scale, rule_sources=list(rule_sources), alertmanager_source=am_source)
    toxiproxy.command(plan, 0)  # fails now, not halfway through, when no fault proxy exists
    plan.api_available = plan.cfg_repo_file(api.API_SCRIPT) is not None
    plan.backup_available = plan.cfg_repo_file(api.BACKUP_SCRIPT) is not None

    ctx.create()
    sinks = None
    backend = LocalBackend(plan, sinks)
    stack = Stack(backend=backend, run_id=ctx.run_id, run_dir=ctx.run_dir, clock=clock, timeline=timeline,
                  time_scale=cfg.time_scale, urls={}, services={}, proxies={}, sinks=None, rule_files=[])
    stack.install_sigterm_handler()
    try:
        # First, before any service: from here on a SIGKILL of the harness leaves nothing behind.
        backend.reaper = start_reaper(ctx)
        plan.run_as = service_identity()
        ensure_traversable(ctx.run_dir, plan.run_as)
        plan.rule_files = prometheus.prepare_rules(rule_sources, ctx.run_dir / "prometheus" / "rules",
                                                   cfg.time_scale, plan.scrape_interval_s())
        # Alert names let the sinks recognise alerts in free-text payloads (PagerDuty summaries, Slack titles).
        known = {rule.name for src in rule_sources for rule in load_rules(src).alerts}
        sinks = NotificationSinks(clock, timeline, known_alerts=known)
        backend.sinks = sinks
        sinks.start()
        plan.alertmanager_config = alertmanager.prepare_config(am_source, sinks, cfg.time_scale)
        proxies: dict[str, tuple[str, str]] = {}

        def make_proxies() -> None:
            proxies.update(toxiproxy.create_proxies(plan))
            ctx.record_ports(proxy_ports.values())

        def targets_up() -> None:
            prometheus.wait_targets_up(plan.url("prometheus"), len(prometheus.targets_for(plan)), plan.timeout)

        steps = [
            Step("toxiproxy", lambda: _ignore(toxiproxy.start(plan))),
            Step("proxies", make_proxies, ("toxiproxy",)),
            Step("postgres_primary", lambda: _ignore(postgres.start_primary(plan))),
            Step("redis", lambda: _ignore(redis.start(plan))),
            Step("node_exporter", lambda: _ignore(exporters.start_node_exporter(plan))),
            Step("alertmanager", lambda: _ignore(alertmanager.start(plan))),
            Step("postgres_exporter_primary", lambda: _ignore(exporters.start_postgres_exporter(plan, "primary")),
                 ("postgres_primary", "proxies")),
            Step("postgres_exporter_replica", lambda: _ignore(exporters.start_postgres_exporter(plan, "replica")),
                 ("postgres_replica", "proxies")),
            Step("redis_exporter", lambda: _ignore(exporters.start_redis_exporter(plan)), ("redis", "proxies")),
            Step("postgres_replica", lambda: _ignore(postgres.start_replica(plan)), ("postgres_primary", "proxies")),
            Step("load_data", lambda: postgres.load_data(plan), ("postgres_primary",)),
            Step("prometheus", lambda: _ignore(prometheus.start(plan)), ("toxiproxy",)),
        ]
        if plan.api_available:
            steps.append(Step("api", lambda: _ignore(api.start_api(plan)),
                              ("load_data", "postgres_replica", "redis", "proxies")))
        else:
            log.warning("the sample API (%s) is not available yet: the stack starts without it", api.API_SCRIPT)
        if plan.backup_available:
            steps.append(Step("backup", lambda: _ignore(api.start_backup(plan)), ("load_data",)))
        if grafana_reason is None:
            steps.append(Step("grafana", lambda: _ignore(grafana.start(plan)), ("prometheus",)))
        steps.append(Step("targets_up", targets_up, tuple(s.name for s in steps)))
        run_steps(steps, ctx.cancelled)
    except BaseException as exc:
        try:
            stack.stop()
        except Exception as teardown_error:
            exc.add_note(f"also, teardown after the failed start failed: {teardown_error}")
        raise

    stack.sinks = sinks
    stack.proxies = proxies
    stack.rule_files = list(plan.rule_files)
    stack.services = _services(plan, grafana_reason)
    stack.urls = {name: info.url for name, info in stack.services.items()
                  if info.url and info.status == "running"}
    return stack


def _ignore(_: ManagedProcess) -> None:
    return None


HTTP_SERVICES = {"prometheus", "alertmanager", "api", "toxiproxy", "backup", "grafana", "node_exporter",
                 "postgres_exporter_primary", "postgres_exporter_replica", "redis_exporter"}


def _services(plan: LocalPlan, grafana_reason: str | None) -> dict[str, ServiceInfo]:
    out: dict[str, ServiceInfo] = {}
    for name in SERVICE_NAMES:
        proc = plan.processes.get(name)
        port = plan.ports[name]
        url = plan.url(name) if name in HTTP_SERVICES else ""
        if proc is not None:
            out[name] = ServiceInfo(name, "running", port=port, url=url, pid=proc.pid, log=str(proc.log_path))
            continue
        reason = "not started"
        if name == "grafana":
            reason = grafana_reason or reason
        elif name == "api":
            reason = f"{api.API_SCRIPT} does not exist yet"
        elif name == "backup":
            reason = f"{api.BACKUP_SCRIPT} does not exist yet"
        out[name] = ServiceInfo(name, "unavailable", reason=reason)
    return out


