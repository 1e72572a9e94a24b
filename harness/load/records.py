"""Ground truth: one record per request the load generator made, in a compact append-only file.

File format (little endian), a sequence of self-contained chunks::

    header  "HRQ1" | u32 n_records | u32 strtab_bytes | u32 crc32(strtab + records)
    strtab  UTF-8 strings joined by "\\n" (endpoint and method names; a record stores indexes)
    records n_records x RECORD_DTYPE (41 bytes each)

Every flush writes one chunk with a single ``write`` under ``flock`` on an ``O_APPEND`` descriptor, so
several Locust worker processes can share one file, and a crash leaves at most one torn chunk at the
end, which the reader detects (length / CRC) and drops. Times are CLOCK_MONOTONIC seconds, the clock
the harness's RunClock is built on (``clock.from_monotonic`` converts them to run time).

This module must not import Locust (the harness process reads records; only the child writes them).
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.core.errors import HarnessError

MAGIC = b"HRQ1"
_HEADER = struct.Struct("<4sIII")

# Transport error kinds; "" means a response arrived (its status says whether it was good).
ERROR_KINDS: tuple[str, ...] = ("", "refused", "reset", "timeout", "other")
_ERROR_INDEX = {k: i for i, k in enumerate(ERROR_KINDS)}

RECORD_DTYPE = np.dtype(
    [
        ("intended", "<f8"),
        ("start", "<f8"),
        ("end", "<f8"),
        ("bytes", "<i8"),
        ("status", "<i4"),
        ("endpoint", "<u2"),
        ("method", "<u2"),
        ("error", "u1"),
    ]
)


@dataclass(frozen=True)
class RequestRecords:
    """Column arrays, one element per request, in file order (roughly by end time)."""

    intended: np.ndarray  # float64, CLOCK_MONOTONIC s: when the request was meant to start
    start: np.ndarray     # float64: when it actually started
    end: np.ndarray       # float64: when the response (or the error) arrived
    endpoint: np.ndarray  # str: route template, e.g. "/api/users/{id}/bets"
    method: np.ndarray    # str
    status: np.ndarray    # int32, 0 = no response
    error: np.ndarray     # str, one of ERROR_KINDS
    bytes: np.ndarray     # int64 response bytes
    dropped_bytes: int = 0  # bytes of a torn chunk at the end of the file (crash mid-write)

    def __len__(self) -> int:
        return int(self.intended.shape[0])

    @property
    def latency(self) -> np.ndarray:
        """Seconds from the intended start to the end: what a user of an open system waited."""
        return np.asarray(self.end - self.intended)

    @property
    def service_time(self) -> np.ndarray:
        """Seconds from the actual start to the end: what the closed-loop generator saw."""
        return np.asarray(self.end - self.start)

    def select(self, mask: np.ndarray) -> RequestRecords:
        return RequestRecords(
            intended=self.intended[mask], start=self.start[mask], end=self.end[mask],
            endpoint=self.endpoint[mask], method=self.method[mask], status=self.status[mask],
            error=self.error[mask], bytes=self.bytes[mask],
        )

    def between(self, t0: float, t1: float) -> RequestRecords:
        """Requests whose end lies in (t0, t1] (monotonic seconds): what a counter scraped at t1 includes."""
        return self.select((self.end > t0) & (self.end <= t1))

    def for_endpoints(self, endpoints: tuple[str, ...] | list[str]) -> RequestRecords:
        """Keep requests matching any of ``"/path"`` or ``"METHOD /path"``; empty means all."""
        if not endpoints:
            return self
        mask = np.zeros(len(self), dtype=bool)
        for spec in endpoints:
            method, _, path = spec.partition(" ") if " " in spec else ("", "", spec)
            m = self.endpoint == path
            if method:
                m &= self.method == method.upper()
            mask |= m
        return self.select(mask)


def empty_records() -> RequestRecords:
    f = np.zeros(0, dtype=np.float64)
    s = np.zeros(0, dtype="<U1")
    return RequestRecords(f, f.copy(), f.copy(), s, s.copy(), np.zeros(0, np.int32), s.copy(), np.zeros(0, np.int64))


def classify_error(exc: BaseException | None, status: int) -> str:
    """Transport error kind of a failed request; "" when a response arrived and no transport error occurred.

    Walks the exception chain, because HTTP clients wrap the socket error (requests wraps urllib3
    which wraps ConnectionRefusedError); falls back to the message for clients that only keep text.
    """
    if exc is None:
        return ""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    texts: list[str] = []
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError):
            return "refused"
        if isinstance(e, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
            return "reset"
        if isinstance(e, TimeoutError | socket.timeout) or type(e).__name__ in ("Timeout", "ConnectTimeout",
                                                                                 "ReadTimeout"):
            return "timeout"
        texts.append(f"{type(e).__name__} {e}".lower())
        for nxt in (e.__cause__, e.__context__, *[a for a in getattr(e, "args", ()) if isinstance(a, BaseException)]):
            if nxt is not None:
                todo.append(nxt)
    text = " ".join(texts)
    if "refused" in text:
        return "refused"
    if "reset" in text or "remotedisconnected" in text or "connection closed" in text or "broken pipe" in text:
        return "reset"
    if "timed out" in text or "timeout" in text:
        return "timeout"
    # A response arrived and the failure is about it (wrong status, bad body): not a transport error.
    return "" if status > 0 else "other"


class RecordWriter:
    """Buffers records in memory and appends them as one chunk per ``flush()``.

    ``add`` is called from the request hot path, so it only appends a tuple; the cost of building
    the numpy array and writing is paid once per flush (the caller flushes at least every second).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._rows: list[tuple[float, float, float, int, int, int, int, int]] = []
        self._strings: dict[str, int] = {}
        self._lock = threading.Lock()
        self.written = 0

    def _index(self, s: str) -> int:
        idx = self._strings.get(s)
        if idx is None:
            # Newlines separate the string table; a name carrying one would shift every index after it.
            clean = s.replace("\n", " ")
            idx = self._strings.setdefault(clean, len(self._strings))
            self._strings[s] = idx
            if len(self._strings) > 65535:
                raise HarnessError("more than 65535 distinct endpoint names in one load run",
                                   hint="name requests by route template (name='/api/users/{id}/bets')")
        return idx

    def add(self, intended: float, start: float, end: float, endpoint: str, method: str, status: int,
            error: str, nbytes: int) -> None:
        self._rows.append((intended, start, end, nbytes, status, self._index(endpoint), self._index(method),
                           _ERROR_INDEX.get(error, 4)))

    def flush(self) -> int:
        with self._lock:
            rows, self._rows = self._rows, []
            if not rows or self._fd < 0:
                return 0
            arr = np.array(rows, dtype=RECORD_DTYPE)
            by_index = sorted({i: s for s, i in self._strings.items()}.items())
            strtab = "\n".join(s for _, s in by_index).encode()
            payload = strtab + arr.tobytes()
            blob = _HEADER.pack(MAGIC, len(rows), len(strtab), zlib.crc32(payload)) + payload
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                view = memoryview(blob)
                while view:
                    n = os.write(self._fd, view)
                    view = view[n:]
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            self.written += len(rows)
            return len(rows)

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def read_records(path: Path | str) -> RequestRecords:
    """Read every complete chunk of a records file; a torn last chunk is dropped and counted."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise HarnessError(f"no request records at {p}",
                           hint="was the load run started with this records_path, and did it make any request?"
                           ) from None
    if not data:
        return empty_records()
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("intended", "start", "end", "bytes", "status",
                                                          "endpoint", "method", "error")}
    pos, dropped = 0, 0
    error_names = np.array(ERROR_KINDS, dtype=object)
    while pos < len(data):
        if len(data) - pos < _HEADER.size:
            dropped = len(data) - pos
            break
        magic, n, slen, crc = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + slen + n * RECORD_DTYPE.itemsize
        if magic != MAGIC:
            if pos == 0:
                raise HarnessError(f"{p} is not a request records file (magic {magic!r})",
                                   hint="pass the records_path given to run_load")
            dropped = len(data) - pos
            break
        if end > len(data) or zlib.crc32(data[pos + _HEADER.size:end]) != crc:
            dropped = len(data) - pos
            break
        strtab_start = pos + _HEADER.size
        strings = np.array(data[strtab_start:strtab_start + slen].decode().split("\n"), dtype=object)
        arr = np.frombuffer(data, dtype=RECORD_DTYPE, count=n, offset=strtab_start + slen)
        for k in ("intended", "start", "end", "bytes", "status"):
            cols[k].append(arr[k])
        cols["endpoint"].append(strings[arr["endpoint"]])
        cols["method"].append(strings[arr["method"]])
        cols["error"].append(error_names[np.minimum(arr["error"], len(ERROR_KINDS) - 1)])
        pos = end
    if not cols["intended"]:
        out = empty_records()
        return RequestRecords(**{**out.__dict__, "dropped_bytes": dropped})
    return RequestRecords(
        intended=np.concatenate(cols["intended"]).astype(np.float64),
        start=np.concatenate(cols["start"]).astype(np.float64),
        end=np.concatenate(cols["end"]).astype(np.float64),
        endpoint=np.concatenate(cols["endpoint"]).astype(str),
        method=np.concatenate(cols["method"]).astype(str),
        status=np.concatenate(cols["status"]).astype(np.int32),
        error=np.concatenate(cols["error"]).astype(str),
        bytes=np.concatenate(cols["bytes"]).astype(np.int64),
        dropped_bytes=dropped,
    )
