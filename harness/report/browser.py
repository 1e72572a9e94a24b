"""Open a report in headless Chromium over the DevTools protocol: did every chart draw, did the console
stay clean, and what does the page look like (a full-page screenshot).

Chromium runs in its own process group with a throwaway profile and every network feature off, so
a check leaves nothing behind and a page that tried to fetch anything from the network would fail.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--no-default-browser-check",
                  "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0")

# Per chart container: plotly's drawn svg count and our "drawn" flag.
_PROBE = """JSON.stringify(Array.from(document.querySelectorAll('div.chart')).map(function (el) {
  return {id: el.id, svgs: el.querySelectorAll('svg.main-svg').length, drawn: el.dataset.drawn === '1',
          traces: el.querySelectorAll('g.trace').length, height: el.getBoundingClientRect().height};
}))"""


@dataclass
class PageCheck:
    charts: list[dict[str, Any]] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)      # every URL the page asked for
    screenshot: Path | None = None
    load_seconds: float = 0.0

    @property
    def all_drawn(self) -> bool:
        return bool(self.charts) and all(c["drawn"] and c["svgs"] > 0 for c in self.charts)


def find_chromium() -> str:
    for path in (os.environ.get("HARNESS_CHROMIUM", ""), *CHROMIUM_CANDIDATES):
        if path and os.access(path, os.X_OK):
            return path
    raise HarnessError("Chromium not found", detail=f"looked at {', '.join(CHROMIUM_CANDIDATES)} and $HARNESS_CHROMIUM",
                       hint="run `make setup` (installs Debian's chromium), `apt-get install -y chromium`, "
                            "or set HARNESS_CHROMIUM to a Chrome/Chromium binary")


class _DevTools:
    def __init__(self, ws_url: str, timeout: float) -> None:
        import websocket  # websocket-client; imported here so the report itself never needs it

        # No Origin header: Chromium rejects DevTools websockets from foreign origins.
        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise HarnessError(f"DevTools {method} failed: {msg['error']}")
                return dict(msg.get("result") or {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if any(e["method"] == method for e in self.events):
            return True
        while time.monotonic() < deadline:
            self.ws.settimeout(max(deadline - time.monotonic(), 0.05))
            try:
                msg = json.loads(self.ws.recv())
            except Exception:  # websocket timeout
                break
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return True
        return False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()


def _console_errors(events: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for ev in events:
        p = ev.get("params") or {}
        if ev["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args") or []))
        elif ev["method"] == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails") or {}
            out.append(str((d.get("exception") or {}).get("description") or d.get("text")))
        elif ev["method"] == "Log.entryAdded" and (p.get("entry") or {}).get("level") == "error":
            out.append(f"{p['entry'].get('source')}: {p['entry'].get('text')} {p['entry'].get('url', '')}".strip())
    return out


def _wait_port_file(profile: Path, proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, str]:
    # Chromium writes the port it bound (and the browser target path) here once DevTools listens.
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HarnessError(f"Chromium exited with status {proc.returncode} before DevTools was ready")
        with contextlib.suppress(OSError, ValueError, IndexError):
            lines = port_file.read_text().split("\n")
            if lines[0].strip():
                return int(lines[0]), lines[1].strip()
        time.sleep(0.05)
    raise HarnessError(f"Chromium did not open its DevTools port within {timeout:.0f}s",
                       detail=f"no {port_file}", hint="run the same chromium by hand with --headless to see why")


def check_page(html: Path, screenshot: Path | None = None, *, width: int = 1400, timeout: float = 40.0,
               chromium: str | None = None) -> PageCheck:
    """Load ``html`` from disk, wait for every chart to draw, collect console errors, take a screenshot."""
    import requests

    binary = chromium or find_chromium()
    profile = Path(tempfile.mkdtemp(prefix="harness-chromium-"))
    log_path = profile.parent / f"{profile.name}.log"
    result = PageCheck()
    started = time.monotonic()
    # Chromium puts its singleton socket in a directory of its own under TMPDIR and leaves it behind when it is
    # stopped (/tmp/org.chromium.Chromium.*): inside the profile, it goes with the profile.
    tmp = profile / "tmp"
    tmp.mkdir()
    with log_path.open("wb") as log:
        proc = subprocess.Popen([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                 f"--window-size={width},1000", "about:blank"],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "TMPDIR": str(tmp)})
    devtools: _DevTools | None = None
    try:
        port, _ = _wait_port_file(profile, proc, timeout=20.0)
        targets = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
        page = next((t for t in targets if t.get("type") == "page"), None)
        if page is None:
            page = requests.put(f"http://127.0.0.1:{port}/json/new?about:blank", timeout=5).json()
        devtools = _DevTools(page["webSocketDebuggerUrl"], timeout)
        for domain in ("Page", "Runtime", "Log", "Network"):
            devtools.call(f"{domain}.enable")
        devtools.call("Emulation.setDeviceMetricsOverride", width=width, height=1000, deviceScaleFactor=1,
                      mobile=False)
        devtools.call("Page.navigate", url=html.resolve().as_uri())
        if not devtools.wait_event("Page.loadEventFired", timeout):
            raise HarnessError(f"{html} did not finish loading within {timeout:.0f}s")
        deadline = time.monotonic() + timeout
        while True:
            raw = devtools.call("Runtime.evaluate", expression=_PROBE, returnByValue=True)
            result.charts = json.loads(raw.get("result", {}).get("value") or "[]")
            if result.all_drawn or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        result.load_seconds = time.monotonic() - started
        if screenshot is not None:
            metrics = devtools.call("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics.get("contentSize") or {}
            height = int(min(max(size.get("height", 1000), 600), 16000))
            devtools.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                          mobile=False)
            time.sleep(0.3)  # let plotly's responsive resize settle at the new viewport
            shot = devtools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            result.screenshot = screenshot
        devtools.wait_event("__drain__", 0.2)  # collect late console messages
        result.console_errors = _console_errors(devtools.events)
        result.requests = [str(e["params"]["request"]["url"]) for e in devtools.events
                           if e["method"] == "Network.requestWillBeSent"]
        return result
    finally:
        if devtools is not None:
            with contextlib.suppress(Exception):
                devtools.call("Browser.close")
            devtools.close()
        _stop(proc)
        shutil.rmtree(profile, ignore_errors=True)
        log_path.unlink(missing_ok=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    # Chromium forks renderers and a zygote into our session; signal the whole group, by its id.
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers left after the leader exited
