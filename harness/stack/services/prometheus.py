"""Prometheus: a generated prometheus.yml scraping every service, rules rewritten for the time scale."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from harness.core.durations import format_duration
from harness.core.errors import HarnessError
from harness.rules.timescale import rewrite_rules
from harness.stack.core.binaries import find_binary
from harness.stack.core.lifecycle import post_reload
from harness.stack.core.process import ManagedProcess
from harness.stack.core.readiness import HttpReady, backoff_delays
from harness.stack.services.plan import LocalPlan

log = logging.getLogger("harness.stack")

# Long enough for a backfilled 30-day window at real time (harness.core.history); the run dir goes at
# the end of the run anyway.
RETENTION = "35d"


@dataclass(frozen=True)
class Target:
    job: str
    address: str
    labels: tuple[tuple[str, str], ...] = ()
    path: str = "/metrics"


def targets_for(plan: LocalPlan) -> list[Target]:
    """Every scrape target of the local stack. Instance labels match what the seeds' rules select on
    (e.g. pg_up{instance="postgres-primary"})."""
    p = plan.ports
    out = [
        Target("prometheus", f"127.0.0.1:{p['prometheus']}"),
        Target("alertmanager", f"127.0.0.1:{p['alertmanager']}"),
        Target("postgres", f"127.0.0.1:{p['postgres_exporter_primary']}",
               (("instance", "postgres-primary"), ("role", "primary"))),
        Target("postgres", f"127.0.0.1:{p['postgres_exporter_replica']}",
               (("instance", "postgres-replica"), ("role", "replica"))),
        Target("redis", f"127.0.0.1:{p['redis_exporter']}", (("instance", "redis"),)),
        Target("node", f"127.0.0.1:{p['node_exporter']}", (("instance", "node"),)),
    ]
    if plan.api_available:
        out.append(Target("api", f"127.0.0.1:{p['api']}", (("instance", "api"),)))
    if plan.backup_available:
        out.append(Target("backup", f"127.0.0.1:{p['backup']}", (("instance", "backup"),)))
    if plan.toxiproxy_metrics:
        out.append(Target("toxiproxy", f"127.0.0.1:{p['toxiproxy']}", (("instance", "toxiproxy"),)))
    return out


def render_config(targets: Sequence[Target], *, time_scale: float, alertmanager: str, rule_glob: str,
                  job_intervals: Mapping[str, float] | None = None) -> str:
    """``job_intervals``: jobs whose exporters need a longer scrape timeout than the compressed interval get
    their own interval, and a timeout equal to it (Prometheus allows no timeout longer than the interval)."""
    scrape = 15.0 / time_scale
    evaluation = 30.0 / time_scale
    jobs: dict[str, list[dict[str, object]]] = {}
    for t in targets:
        jobs.setdefault(t.job, []).append({"targets": [t.address], "labels": dict(t.labels)} if t.labels
                                          else {"targets": [t.address]})
    config = {
        "global": {
            "scrape_interval": format_duration(scrape),
            "scrape_timeout": format_duration(min(scrape, 10.0)),
            "evaluation_interval": format_duration(evaluation),
            "external_labels": {"harness": "local"},
        },
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "rule_files": [rule_glob],
        "scrape_configs": [{"job_name": job, **_job_timing(job, job_intervals or {}), "static_configs": configs}
                           for job, configs in jobs.items()],
    }
    return yaml.safe_dump(config, sort_keys=False)


def _job_timing(job: str, intervals: Mapping[str, float]) -> dict[str, str]:
    if job not in intervals:
        return {}
    return {"scrape_interval": format_duration(intervals[job]), "scrape_timeout": format_duration(intervals[job])}


def prepare_rules(paths: Sequence[Path], out_dir: Path, time_scale: float, scrape_interval_s: float) -> list[Path]:
    """Rewrite each rule file for the time scale into ``out_dir`` (replacing what was there)."""
    for p in paths:
        if not p.is_file():
            raise HarnessError(f"rule file {p} does not exist", hint="pass existing files with --rules")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    written = []
    for i, src in enumerate(paths):
        text = rewrite_rules(src.read_text(), time_scale, scrape_interval_s=scrape_interval_s, source=str(src))
        dest = out_dir / f"{i:02d}-{src.stem}.yml"
        dest.write_text(text)
        written.append(dest)
    return written


def write_config(plan: LocalPlan) -> Path:
    """prometheus.yml for the plan's current time scale (scrape and evaluation intervals follow it)."""
    home = plan.run_dir / "prometheus"
    config = home / "prometheus.yml"
    config.write_text(render_config(targets_for(plan), time_scale=plan.time_scale,
                                    alertmanager=f"127.0.0.1:{plan.ports['alertmanager']}",
                                    rule_glob=str(home / "rules" / "*.yml"), job_intervals=plan.job_intervals))
    return config


def start(plan: LocalPlan) -> ManagedProcess:
    port = plan.ports["prometheus"]
    home = plan.run_dir / "prometheus"
    (home / "data").mkdir(parents=True, exist_ok=True)
    config = write_config(plan)
    argv = [find_binary("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle", "--web.enable-admin-api",
            f"--storage.tsdb.retention.time={RETENTION}"]
    proc = plan.register(ManagedProcess("prometheus", argv, plan.ctx, port=port, timeout=plan.timeout,
                                        ready=HttpReady(plan.url("prometheus", "/-/ready")),
                                        hint="a rule file Prometheus cannot parse stops it at start: see "
                                        "the log above (the rewritten rules are in the run dir)"))
    proc.start()
    return proc


def backfill(plan: LocalPlan, openmetrics: str, *, start: float, end: float, step_s: float) -> None:
    """The samples as TSDB blocks in Prometheus's data directory, then the recording rules over them (as if
    they had been evaluated all along: a rule averaging a record over 30 days needs the record's history
    too). Prometheus is restarted to open each set of blocks (it finds new blocks by itself only at its next
    minute's reload)."""
    home = plan.run_dir / "prometheus"
    work = home / "backfill"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        source = work / "history.om"
        source.write_text(openmetrics, encoding="utf-8")
        _promtool(["openmetrics", str(source), str(work / "raw")], f"the OpenMetrics text is in {source}")
        _open_blocks(plan, work / "raw")
        rules = _recording_rules(plan.rule_files, work / "rules", step_s)
        if rules:
            _promtool(["rules", f"--url={plan.url('prometheus')}", f"--start={int(start)}", f"--end={int(end)}",
                       f"--output-dir={work / 'records'}", f"--eval-interval={max(1, round(step_s))}s", "--quiet",
                       *map(str, rules)], "the rule files are the run's rewritten ones")
            _open_blocks(plan, work / "records")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _promtool(args: list[str], hint: str) -> None:
    out = subprocess.run([find_binary("promtool"), "tsdb", "create-blocks-from", *args], capture_output=True,
                         text=True, timeout=600)
    if out.returncode != 0:
        raise HarnessError(f"promtool tsdb create-blocks-from {args[0]} failed: {out.stderr.strip()[-500:]}",
                           hint=hint)


def _open_blocks(plan: LocalPlan, blocks: Path) -> None:
    if not blocks.is_dir():
        return
    for block in blocks.iterdir():
        shutil.move(str(block), str(plan.run_dir / "prometheus" / "data" / block.name))
    proc = plan.processes["prometheus"]
    proc.stop()
    proc.start()


def _recording_rules(files: Sequence[Path], out_dir: Path, step_s: float) -> list[Path]:
    """Copies of the rule files with only their recording rules, every group evaluated every ``step_s``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i, f in enumerate(files):
        doc = yaml.safe_load(Path(f).read_text(encoding="utf-8")) or {}
        groups = []
        for g in doc.get("groups") or []:
            records = [r for r in g.get("rules") or [] if "record" in r]
            if records:
                groups.append({**g, "interval": f"{max(1, round(step_s))}s", "rules": records})
        if groups:
            path = out_dir / f"{i:02d}-{Path(f).name}"
            path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False), encoding="utf-8")
            written.append(path)
    return written


def reload(url: str, log_path: Path | None = None) -> None:
    post_reload("Prometheus", url, log_path, "the previous rules stay loaded; fix the rule file and reload again")


def wait_targets_up(url: str, expected: int, timeout: float) -> list[dict[str, Any]]:
    """Until every expected target has been scraped successfully; "too slow" lists the ones still down."""
    deadline = time.monotonic() + timeout
    delay = backoff_delays()
    targets: list[dict[str, Any]] = []
    while True:
        try:
            targets = requests.get(f"{url}/api/v1/targets", timeout=2).json()["data"]["activeTargets"]
        except (requests.RequestException, ValueError, KeyError):
            targets = []
        if len(targets) >= expected and all(t.get("health") == "up" for t in targets):
            return targets
        if time.monotonic() >= deadline:
            down = [f"{t.get('labels', {}).get('job')}/{t.get('scrapeUrl')}: {t.get('health')} "
                    f"{t.get('lastError', '')}" for t in targets if t.get("health") != "up"]
            raise HarnessError(
                f"Prometheus targets not all up after {timeout:.1f} s ({len(targets)} of {expected} known)",
                detail="\n".join(f"  {d}" for d in down),
                hint="the service behind a down target is running but its /metrics fails; see its log "
                "in the run dir",
            )
        time.sleep(delay())
