"""Child-process side of recording: a Locust request listener feeding a RecordWriter.

Imported only inside the Locust child (it touches gevent through Locust's environment), never by the
harness process. Works for any locustfile, because it listens to Locust's own ``request`` event.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gevent

from harness.load.records import RecordWriter, classify_error

# Key in a request's context carrying the open model's intended start (CLOCK_MONOTONIC seconds).
INTENDED_KEY = "harness_intended"
# The generator flushes at least this often, so a crash loses at most this much of the run.
FLUSH_INTERVAL_S = 0.5


class Recorder:
    def __init__(self, path: Path) -> None:
        self.writer = RecordWriter(path)
        self._flusher: gevent.Greenlet | None = None

    def on_request(self, request_type: str, name: str, response_time: float | None, response_length: int | None,
                   response: Any = None, context: dict[str, Any] | None = None,
                   exception: BaseException | None = None, **_: Any) -> None:
        end = time.monotonic()
        start = end - (response_time or 0.0) / 1000.0
        intended = context.get(INTENDED_KEY) if context else None
        status = getattr(response, "status_code", 0) or 0
        try:
            status = int(status)
        except (TypeError, ValueError):
            status = 0
        error = classify_error(exception, status)
        if status == 0 and not error:
            error = "other"  # no response and no exception to say why (a locustfile marked it a success)
        self.writer.add(start if intended is None else float(intended), start, end, str(name), str(request_type),
                        status, error, int(response_length or 0))
        if not self.writer.written:
            self.writer.flush()  # the first request on disk at once: the harness waits for it (wait_flowing)

    def start_flushing(self) -> None:
        def loop() -> None:
            while True:
                gevent.sleep(FLUSH_INTERVAL_S)
                self.writer.flush()

        self._flusher = gevent.spawn(loop)

    def close(self) -> None:
        if self._flusher is not None:
            self._flusher.kill(block=False)
            self._flusher = None
        self.writer.close()
