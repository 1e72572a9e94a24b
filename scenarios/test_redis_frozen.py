"""A scenario in Python, for what YAML does not say: a frozen (SIGSTOP) Redis, not a crashed one.

A crashed Redis refuses connections at once; a frozen one accepts them and never answers, which is the
harder case for a service (every cache call must hit its timeout) and for monitoring (the exporter's
scrape times out instead of failing fast). It uses the plugin's fixtures on the same session stack as
the YAML scenarios: ``stack``, ``load``, ``faults``, ``alerts`` and ``slo``.
"""

from __future__ import annotations

import time
from typing import Any

from harness.load.profile import ConstantArrivalRate
from harness.load.records import read_records

RATE_PER_S = 30.0


def test_frozen_redis_pages_while_the_api_serves_from_postgres(stack: Any, load: Any, faults: Any,
                                                               alerts: Any, slo: Any) -> None:
    scale = stack.time_scale
    redis_down = 60.0 / scale  # RedisDown's `for: 1m`, in real seconds
    frozen_for = max(20 * redis_down, 5.0)
    run = load(ConstantArrivalRate(rate_per_s=RATE_PER_S, duration_s=frozen_for + 4.0))
    time.sleep(2.0)  # a healthy start: the cache is warm
    with faults.freeze("redis") as fault:
        frozen_at = stack.clock.now()
        fired_at = alerts.wait_firing("RedisDown", timeout=frozen_for)
        time.sleep(max(0.0, frozen_at + frozen_for - stack.clock.now()))
    assert fault.ended_t is not None
    run.wait()

    # Paged, no sooner than `for` allows.
    assert fired_at - frozen_at >= redis_down * 0.9, (fired_at, frozen_at)

    # What users saw while Redis was frozen: every request answered, none with a 5xx.
    rec = read_records(run.records_path)
    during = rec.between(stack.clock.mono_start + frozen_at, stack.clock.mono_start + fault.ended_t)
    assert len(during) >= RATE_PER_S * frozen_for * 0.5, f"only {len(during)} requests while frozen"
    good = slo.GOOD_PREDICATES["not_5xx"](during.status, during.error)
    assert slo.availability(good) == 1.0, sorted(set(zip(during.status.tolist(), during.error.tolist(),
                                                         strict=True)))
