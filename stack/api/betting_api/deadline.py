"""Hard deadlines for dependency calls.

asyncio.wait_for is not enough on its own: after the timeout it cancels the call and then *waits for
the cancellation to finish*. psycopg reacts to cancellation by sending a server-side cancel and
waiting up to seconds for the answer, and a stalled socket never answers, so the request would hang
well past its budget. Here the call runs as its own task; on timeout the task is cancelled and left to
clean up in the background while the caller gets DeadlineExceeded at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

_cleanups: set[asyncio.Task[object]] = set()


class DeadlineExceeded(TimeoutError):
    def __init__(self, what: str, timeout_s: float) -> None:
        super().__init__(f"{what} did not answer within {timeout_s:.3f}s")
        self.what = what
        self.timeout_s = timeout_s


def _forget(task: asyncio.Task[object]) -> None:
    _cleanups.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log "exception was never retrieved"


async def within(what: str, timeout_s: float, call: Callable[[], Awaitable[T]]) -> T:
    """Run call() with a hard deadline; raise DeadlineExceeded without waiting for its cleanup."""
    task: asyncio.Task[T] = asyncio.ensure_future(call())
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
    except asyncio.CancelledError:
        # Our caller went away (client disconnected): do not leave the call running unowned.
        task.cancel()
        _cleanups.add(task)
        task.add_done_callback(_forget)
        raise
    if done:
        return task.result()
    task.cancel()
    _cleanups.add(task)
    task.add_done_callback(_forget)
    raise DeadlineExceeded(what, timeout_s)


def pending_cleanups() -> int:
    """Cancelled calls still cleaning up (tests use it to prove nothing leaks)."""
    return len(_cleanups)
