"""Median of 5 cold starts of the local stack to "all Prometheus targets up", and of 5 teardowns.

Cold: a fresh run directory each time (initdb, base backup, data load, every process spawned).
Target: all targets up in under 10 s on a 2-core machine.
"""

from __future__ import annotations

import statistics
import sys
import time

from harness.config import resolve_config
from harness.observe.prometheus import PrometheusClient
from harness.stack import start_stack

RUNS = 5


def main() -> int:
    cfg = resolve_config()
    starts: list[float] = []
    stops: list[float] = []
    for i in range(RUNS):
        t0 = time.monotonic()
        stack = start_stack(cfg)
        try:
            samples = PrometheusClient(stack.urls["prometheus"]).query("up")
            starts.append(time.monotonic() - t0)
            down = [s.labels for s in samples if s.value != 1.0]
            if down or not samples:
                print(f"run {i + 1}: targets not up: {down}", file=sys.stderr)
                return 1
        finally:
            t1 = time.monotonic()
            stack.stop()
            stops.append(time.monotonic() - t1)
        print(f"run {i + 1}: all {len(samples)} targets up in {starts[-1]:.2f} s; teardown {stops[-1]:.2f} s",
              flush=True)
    print(f"median cold start to all targets up: {statistics.median(starts):.2f} s "
          f"(min {min(starts):.2f}, max {max(starts):.2f}; target < 10 s)")
    print(f"median teardown: {statistics.median(stops):.2f} s (min {min(stops):.2f}, max {max(stops):.2f})")
    return 0 if statistics.median(starts) < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
