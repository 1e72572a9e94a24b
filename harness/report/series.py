"""Per-second ground-truth series from the raw request records: requests/s, error ratio, p95 and p99.

Records carry CLOCK_MONOTONIC seconds; subtracting the run clock's ``mono_start`` puts them on the run
clock shared with faults and alerts. Latency is measured from the *intended* start where the load
generator scheduled one, so a stalled generator cannot hide slowness (coordinated omission).
A request is an error when it got no response (status 0, an ``error`` set) or a 5xx.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass
class Series:
    """Bins on the run clock: ``t[i]`` is the start of second i; empty bins have NaN latencies."""

    t: FloatArray = field(default_factory=lambda: np.zeros(0))
    rps: FloatArray = field(default_factory=lambda: np.zeros(0))
    error_ratio: FloatArray = field(default_factory=lambda: np.zeros(0))
    p95: FloatArray = field(default_factory=lambda: np.zeros(0))
    p99: FloatArray = field(default_factory=lambda: np.zeros(0))
    total: int = 0
    errors: int = 0

    def __len__(self) -> int:
        return int(self.t.size)


def load_records(path: Path) -> Any:
    """Read a records file with harness.load.records when present; fall back to a plain ``.npz`` of the
    same array names, so a report can be rebuilt where the load module is not importable."""
    try:
        from harness.load.records import read_records
    except ImportError:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    return read_records(path)


def _field(records: Any, name: str) -> np.ndarray:
    value = records[name] if isinstance(records, dict) else getattr(records, name)
    return np.asarray(value)


def _nearest_rank(sorted_lat: FloatArray, starts: npt.NDArray[np.int64], counts: npt.NDArray[np.int64],
                  q: float) -> FloatArray:
    out = np.full(counts.shape, np.nan)
    has = counts > 0
    # Nearest-rank percentile: the ceil(q*n)-th smallest value of each bin.
    rank = np.maximum(np.ceil(q * counts[has]).astype(np.int64) - 1, 0)
    out[has] = sorted_lat[starts[has] + rank]
    return out


def bin_records(records: Any, mono_start: float, start: float | None = None, end: float | None = None,
                width: float = 1.0) -> Series:
    """Bin records into ``width``-second bins on the run clock, between ``start`` and ``end`` if given."""
    t_start = _field(records, "start").astype(np.float64) - mono_start
    t_end = _field(records, "end").astype(np.float64) - mono_start
    intended = _field(records, "intended").astype(np.float64) - mono_start
    status = _field(records, "status").astype(np.int64)
    error = _field(records, "error").astype(str)
    t0 = np.where(np.isfinite(intended), intended, t_start)
    keep = np.isfinite(t0)
    if start is not None:
        keep &= t0 >= start
    if end is not None:
        keep &= t0 < end
    t0, t_end, status, error = t0[keep], t_end[keep], status[keep], error[keep]
    if t0.size == 0:
        return Series()
    origin = float(np.floor(t0.min() if start is None else start))
    idx = np.floor((t0 - origin) / width).astype(np.int64)
    nbins = int(idx.max()) + 1
    counts = np.bincount(idx, minlength=nbins)
    failed = (status == 0) | (status >= 500) | (error != "")
    errs = np.bincount(idx, weights=failed.astype(np.float64), minlength=nbins)
    latency = t_end - t0
    done = np.isfinite(latency)
    lat_idx, lat = idx[done], latency[done]
    order = np.lexsort((lat, lat_idx))
    lat_sorted = lat[order]
    lat_counts = np.bincount(lat_idx, minlength=nbins).astype(np.int64)
    lat_starts = np.concatenate(([0], np.cumsum(lat_counts)[:-1])).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(counts > 0, errs / np.maximum(counts, 1), np.nan)
    return Series(
        t=origin + np.arange(nbins, dtype=np.float64) * width,
        rps=counts.astype(np.float64) / width,
        error_ratio=ratio,
        p95=_nearest_rank(lat_sorted, lat_starts, lat_counts, 0.95),
        p99=_nearest_rank(lat_sorted, lat_starts, lat_counts, 0.99),
        total=int(t0.size),
        errors=int(failed.sum()),
    )
