"""Run the server as a child process (its own process group), wait for it to be ready, stop it by pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from harness.core.errors import HarnessError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ToxiproxyProcess:
    """``with ToxiproxyProcess() as tp: tp.url`` — a server on a free loopback port for the block's duration."""

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None, extra_args: list[str] | None = None,
                 log_path: Path | None = None, ready_timeout_s: float = 15.0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.extra_args = list(extra_args or [])
        self.log_path = log_path
        self.ready_timeout_s = ready_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ToxiproxyProcess:
        cmd = [sys.executable, "-m", "harness.toxiproxy_server", "--host", self.host, "--port", str(self.port),
               *self.extra_args]
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
        finally:
            if self.log_path:
                log.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + self.ready_timeout_s
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError(f"toxiproxy server exited with code {self.proc.returncode} before it was ready",
                                   detail=f"command: {' '.join(cmd)}",
                                   hint=f"see {self.log_path}" if self.log_path else "pass log_path to see its output")
            try:
                with urllib.request.urlopen(f"{self.url}/version", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except (OSError, urllib.error.URLError) as exc:
                last = str(exc)
            time.sleep(0.05)
        self.stop()
        raise HarnessError(f"toxiproxy server not ready on {self.url} after {self.ready_timeout_s:.0f} s",
                           detail=f"last /version attempt: {last}", hint="is the port taken by another process?")

    def stop(self, timeout_s: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass

    def __enter__(self) -> ToxiproxyProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
