"""The machine-wide quiet claim (harness.host.quiet), with real abstract sockets under a name of the test's own."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid

import pytest

from harness.core.errors import HarnessError
from harness.host.quiet import held_claims, machine


def prefix() -> str:
    return f"harness-test-{uuid.uuid4().hex[:8]}"


def test_ordinary_scenarios_run_side_by_side() -> None:
    p = prefix()
    with machine(False, prefix=p) as a, machine(False, prefix=p) as b:
        assert a < 1 and b < 1
        assert len([n for n in held_claims(p) if n.startswith(f"{p}-busy-")]) == 2
    assert held_claims(p) == set()


def test_a_scenario_that_runs_alone_waits_for_the_running_ones_and_holds_off_new_ones() -> None:
    p = prefix()
    waiting, entered, release = threading.Event(), threading.Event(), threading.Event()

    def alone() -> None:
        with machine(True, prefix=p, poll_s=0.01, on_wait=lambda why: waiting.set()):
            entered.set()
            release.wait(10)

    with machine(False, prefix=p):
        t = threading.Thread(target=alone)
        t.start()
        assert waiting.wait(10), "the alone scenario never reported that it waits"
        assert not entered.is_set(), "it ran beside an ordinary scenario"
    assert entered.wait(10)
    held_off = threading.Event()

    def ordinary() -> None:
        with machine(False, prefix=p, poll_s=0.01, on_wait=lambda why: held_off.set()):
            pass

    late = threading.Thread(target=ordinary)
    late.start()
    assert held_off.wait(10), "an ordinary scenario started beside the one that runs alone"
    release.set()
    t.join(10)
    late.join(10)
    assert not late.is_alive()


def test_two_alone_scenarios_take_turns() -> None:
    p = prefix()
    inside: list[int] = []
    overlap: list[bool] = []

    def alone(i: int) -> None:
        with machine(True, prefix=p, poll_s=0.01):
            inside.append(i)
            overlap.append(len(inside) > 1)
            time.sleep(0.05)
            inside.remove(i)

    threads = [threading.Thread(target=alone, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert overlap == [False, False, False]


def test_a_killed_holder_releases_the_machine() -> None:
    p = prefix()
    code = ("import sys, time\nfrom harness.host.quiet import machine\n"
            f"with machine(True, prefix={p!r}):\n    print('held', flush=True)\n    time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert f"{p}-quiet" in held_claims(p)
    finally:
        holder.kill()
        holder.wait(10)
    with machine(False, prefix=p, poll_s=0.01) as waited:
        assert waited < 5


def test_a_holder_that_never_lets_go_is_named_not_waited_for_forever() -> None:
    p = prefix()
    with machine(True, prefix=p), pytest.raises(HarnessError, match="waited 0s for the machine") as err, \
                machine(False, prefix=p, poll_s=0.01, max_wait_s=0.05):
        pass
    assert f"{p}-quiet" in str(err.value.detail)
