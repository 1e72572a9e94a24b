"""``harness up | down | status``: run the stack in the foreground or detached, inspect it, stop it."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from harness.config import Config, resolve_flags
from harness.core.errors import HarnessError
from harness.host.runstate import process_alive, process_start_time, sweep_dead_runs
from harness.stack import start_stack
from harness.stack.core.readiness import HttpReady, PortReady, ReadyCheck
from harness.stack.model import Stack

STATE_FILE_NAME = "harness-current.json"
HEALTH_PATHS = {"prometheus": "/-/healthy", "alertmanager": "/-/healthy", "api": "/healthz", "toxiproxy": "/version",
                "backup": "/healthz", "grafana": "/api/health"}


def state_path(cfg: Config) -> Path:
    return Path(cfg.work_root) / STATE_FILE_NAME


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog)
    p.add_argument("--backend", choices=("local", "docker", "external"))
    p.add_argument("--time-scale", type=float)
    p.add_argument("--work-root")
    p.add_argument("--rules", nargs="+", help="rule files to load (default: `harness config` shows them)")
    p.add_argument("--alertmanager-config")
    p.add_argument("--ready-timeout", type=float)
    p.add_argument("--api-workers", type=int)
    p.add_argument("--data-scale", type=float)
    p.add_argument("--prometheus-url")
    p.add_argument("--alertmanager-url")
    p.add_argument("--api-url")
    p.add_argument("--toxiproxy-url")
    return p


def _state(stack: Stack, status: str) -> dict[str, Any]:
    return {
        "status": status,
        "run_id": stack.run_id,
        "run_dir": str(stack.run_dir),
        "supervisor_pid": os.getpid(),
        "supervisor_start_time": process_start_time(os.getpid()),
        "time_scale": stack.time_scale,
        "urls": stack.urls,
        "proxies": {k: list(v) for k, v in stack.proxies.items()},
        "services": {n: {"status": s.status, "pid": s.pid, "port": s.port, "url": s.url, "reason": s.reason}
                     for n, s in stack.services.items()},
    }


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def _read_state(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _state_owner_alive(state: dict[str, Any] | None) -> bool:
    if not state:
        return False
    return process_alive(int(state.get("supervisor_pid", 0)), state.get("supervisor_start_time"))


def _serve(cfg: Config, args: argparse.Namespace, *, announce: bool) -> int:
    """Start, publish state, wait for Ctrl-C / SIGTERM, tear down. Used by foreground and supervisor."""
    path = state_path(cfg)
    publish = not _state_owner_alive(_read_state(path))  # never overwrite another live stack's state
    try:
        stack = start_stack(cfg)
    except BaseException as exc:
        if publish and not announce:
            _write_json(path, {"status": "failed", "supervisor_pid": os.getpid(), "error": str(exc)})
        raise
    with stack:
        if publish:
            _write_json(path, _state(stack, "ready"))
        try:
            if announce:
                print(stack.describe())
                print("\nall services ready; Ctrl-C stops the stack", flush=True)
            threading.Event().wait() if threading.current_thread() is threading.main_thread() else None
        finally:
            if publish and (_read_state(path) or {}).get("run_id") == stack.run_id:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
    return 0


def main_up(argv: list[str]) -> int:
    parser = _parser("harness up")
    parser.add_argument("--detach", action="store_true", help="return once ready; `harness down` stops it")
    parser.add_argument("--supervise", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cfg = resolve_flags(args)
    if args.detach:
        return _detach(cfg, [a for a in argv if a != "--detach"])
    try:
        return _serve(cfg, args, announce=not args.supervise)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130
    except SystemExit as exc:  # SIGTERM, turned into an orderly unwind by the stack
        return int(exc.code or 0)


def _detach(cfg: Config, argv: list[str]) -> int:
    path = state_path(cfg)
    existing = _read_state(path)
    if _state_owner_alive(existing):
        raise HarnessError(f"a detached stack is already running (run {existing and existing.get('run_id')})",
                           hint="`harness status` to see it, `harness down` to stop it")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    Path(cfg.work_root).mkdir(parents=True, exist_ok=True)
    log_path = Path(cfg.work_root) / "harness-supervisor.log"
    with log_path.open("ab") as log_fh:
        child = subprocess.Popen([sys.executable, "-m", "harness.cli", "up", "--supervise", *argv],
                                 stdin=subprocess.DEVNULL, stdout=log_fh, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    deadline = time.monotonic() + cfg.ready_timeout * 3 + 60
    while time.monotonic() < deadline:
        state = _read_state(path)
        if state and state.get("supervisor_pid") == child.pid:
            if state.get("status") == "failed":
                path.unlink()
                raise HarnessError(f"the detached stack failed to start:\n{state.get('error')}")
            print(_describe_state(state))
            print(f"\ndetached (supervisor pid {child.pid}); `harness status`, `harness down`")
            return 0
        if child.poll() is not None:
            raise HarnessError(f"the detached supervisor exited with code {child.returncode} before the stack "
                               "was ready", detail=_tail_text(log_path), hint=f"see {log_path}")
        time.sleep(0.1)
    os.killpg(child.pid, signal.SIGTERM)
    raise HarnessError("the detached stack was not ready in time", hint=f"see {log_path}")


def _tail_text(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _describe_state(state: dict[str, Any]) -> str:
    lines = [f"run {state.get('run_id')} (time scale {state.get('time_scale')}, run dir {state.get('run_dir')})"]
    for name, s in state.get("services", {}).items():
        where = s.get("url") or (f"127.0.0.1:{s['port']}" if s.get("port") else "-")
        extra = f"({s.get('reason')})" if s.get("status") == "unavailable" else f"pid {s.get('pid')}"
        lines.append(f"  {name:<26} {s.get('status'):<12} {where}  {extra}")
    return "\n".join(lines)


def _health(name: str, service: dict[str, Any]) -> str:
    if service.get("status") == "unavailable":
        return f"unavailable: {service.get('reason')}"
    pid = service.get("pid")
    if pid and not process_alive(int(pid)):
        return f"down: pid {pid} is gone"
    check: ReadyCheck | None = None
    if service.get("url"):
        check = HttpReady(service["url"] + HEALTH_PATHS.get(name, "/metrics"))
    elif service.get("port"):
        check = PortReady(int(service["port"]))
    observed = check.check() if check else None
    return "healthy" if observed is None else f"unhealthy: {observed}"


def main_status(argv: list[str]) -> int:
    args = _parser("harness status").parse_args(argv)
    cfg = resolve_flags(args)
    path = state_path(cfg)
    state = _read_state(path)
    if not state or not _state_owner_alive(state):
        print(f"no stack is running (no live state in {path}); `harness up` starts one")
        return 1
    print(f"run {state['run_id']} (supervisor pid {state['supervisor_pid']}, time scale {state.get('time_scale')})")
    healthy = True
    for name, service in state.get("services", {}).items():
        verdict = _health(name, service)
        healthy &= verdict.startswith(("healthy", "unavailable"))
        where = service.get("url") or (f"127.0.0.1:{service['port']}" if service.get("port") else "")
        print(f"  {name:<26} {verdict:<40} {where}")
    return 0 if healthy else 1


def main_down(argv: list[str]) -> int:
    args = _parser("harness down").parse_args(argv)
    cfg = resolve_flags(args)
    path = state_path(cfg)
    state = _read_state(path)
    if state and _state_owner_alive(state):
        pid = int(state["supervisor_pid"])
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process_alive(pid, state.get("supervisor_start_time")):
            time.sleep(0.05)
        if process_alive(pid, state.get("supervisor_start_time")):
            print(f"supervisor {pid} did not stop in time; killing it", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
        print(f"stopped run {state.get('run_id')}")
    if state is not None and not _state_owner_alive(state):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    swept = sweep_dead_runs(Path(cfg.work_root))
    for run_id in swept:
        print(f"cleaned up dead run {run_id}")
    if not state and not swept:
        print("nothing to stop")
    return 0
