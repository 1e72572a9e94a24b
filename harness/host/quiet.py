"""The machine to itself, for a scenario that judges millisecond latencies.

Two scenario runners on one machine (pytest-xdist workers, each with its own stack, or a demo beside a test
run) share its cores. A scenario whose verdict reads a latency threshold of a few milliseconds cannot tell its
own fault from the other runner's load: compression shortens a 5-minute p95 window to seconds, and at 7 requests
a second, one stall of a second puts 5% of such a window over any threshold. Measured on 2 cores: beside a
worker starting stacks, the demo's Query 1 p95 was 44 ms (threshold 5 ms) and QueryLatencyHigh paged; with four
workers three query-latency brackets failed; with two, query_latency_place_bet_fires once stayed firing past its
resolve bound.

So such a scenario runs *alone*: it claims the machine's quiet (one claimant at a time), then waits until no
other scenario is running; every other scenario, and every stack start, waits while the quiet is claimed and
marks itself busy while it runs. Claims are Linux abstract sockets, as the port claims are
(harness.host.ports): the kernel drops a claim when its process ends, however it ends, and no file is left.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Callable, Iterator

from harness.core.errors import HarnessError
from harness.host.ports import bind_claim

PREFIX = "harness"   # claims: "<prefix>-quiet" and "<prefix>-busy-<pid>-<n>"
MAX_WAIT_S = 3600.0   # a scenario lasts minutes; an hour means a holder that is stopped or hung
_serial = itertools.count()


def held_claims(prefix: str = PREFIX) -> set[str]:
    """Names of the abstract sockets of this machine's network namespace that start with ``prefix``."""
    names: set[str] = set()
    with open("/proc/net/unix", encoding="utf-8", errors="replace") as f:
        next(f, None)
        for line in f:
            parts = line.split()
            if len(parts) >= 8 and parts[7].startswith(f"@{prefix}-"):
                names.add(parts[7][1:])
    return names


@contextlib.contextmanager
def machine(alone: bool, *, poll_s: float = 0.2, sleep: Callable[[float], None] = time.sleep,
            on_wait: Callable[[str], None] | None = None, prefix: str = PREFIX,
            max_wait_s: float = MAX_WAIT_S) -> Iterator[float]:
    """Hold the machine for one scenario (or one stack start): ``alone``, with no other scenario running; else
    beside other ordinary scenarios, never beside one that runs alone. Yields the seconds spent waiting; after
    ``max_wait_s`` a HarnessError says who holds the machine. ``prefix`` names the claims (tests use their own,
    so as not to meet a real run's)."""
    quiet, busy_prefix = f"{prefix}-quiet", f"{prefix}-busy-"
    began = time.monotonic()
    told = False

    def waiting(why: str) -> None:
        nonlocal told
        if time.monotonic() - began > max_wait_s:
            raise HarnessError(f"waited {max_wait_s:.0f}s for the machine: {why}",
                               detail="holders: " + (", ".join(sorted(held_claims(prefix))) or "none left"),
                               hint="a harness process that holds it may be stopped or hung: `ss -xap | grep "
                               f"{prefix}-` names its pid")
        if on_wait is not None and not told:
            on_wait(why)
            told = True
        sleep(poll_s)

    if alone:
        claim = bind_claim(quiet)
        while claim is None:
            waiting("another scenario that runs alone holds the machine")
            claim = bind_claim(quiet)
        try:
            while any(n.startswith(busy_prefix) for n in held_claims(prefix)):
                waiting("other scenarios are still running")
            yield time.monotonic() - began
        finally:
            claim.close()
        return
    name = f"{busy_prefix}{os.getpid()}-{next(_serial)}"
    while True:
        if quiet not in held_claims(prefix):
            busy = bind_claim(name)
            # Bound first, then looked: a scenario claiming the quiet now either sees this claim or was seen.
            if busy is not None and quiet not in held_claims(prefix):
                break
            if busy is not None:
                busy.close()
        waiting("a scenario that runs alone holds the machine")
    try:
        yield time.monotonic() - began
    finally:
        busy.close()
