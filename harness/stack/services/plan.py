"""What the local backend decided before starting anything: ports, identities, paths, options."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from harness.config import REPO_ROOT, Config
from harness.host.runstate import RunContext
from harness.stack.core.process import ManagedProcess, RunAs


@dataclass
class LocalPlan:
    cfg: Config
    ctx: RunContext
    run_as: RunAs | None
    ports: dict[str, int]          # service name -> port
    proxy_ports: dict[str, int]    # proxy name -> listen port
    time_scale: float
    rule_files: list[Path] = field(default_factory=list)
    rule_sources: list[Path] = field(default_factory=list)   # as the user gave them (rewritten per scale)
    alertmanager_source: Path | None = None
    job_intervals: dict[str, float] = field(default_factory=dict)  # jobs scraped less often (see timing)
    alertmanager_config: str = ""  # the adapted config text
    api_available: bool = False
    backup_available: bool = False
    toxiproxy_metrics: bool = False
    python: str = sys.executable
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def timeout(self) -> float:
        return self.cfg.ready_timeout

    @property
    def run_dir(self) -> Path:
        return self.ctx.run_dir

    def url(self, service: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def register(self, proc: ManagedProcess) -> ManagedProcess:
        """Record a process before it is started, so a failed start still gets torn down."""
        with self.lock:
            self.processes[proc.name] = proc
            self.started.append(proc.name)
        return proc

    def cfg_repo_file(self, relative: str) -> Path | None:
        """A file of the repository's reference stack, or None while its workstream has not landed it."""
        path = REPO_ROOT / relative
        return path if path.is_file() else None

    def scrape_interval_s(self) -> float:
        return 15.0 / self.time_scale

    def evaluation_interval_s(self) -> float:
        return 30.0 / self.time_scale
