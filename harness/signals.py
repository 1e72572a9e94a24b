"""SIGTERM turned into an exception, so ``finally`` clauses and ``with`` blocks clean up as they do on Ctrl-C; the one
implementation used by a run (KeyboardInterrupt) and by a stack started outside a run (SystemExit)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def sigterm_raises(make: Callable[[int], BaseException], *, only_if_default: bool = False) -> Iterator[None]:
    """While inside, SIGTERM raises ``make(signum)`` in the main thread; the previous handler is back on exit.

    Nothing changes outside the main thread (Python delivers signals only there), nor, with ``only_if_default``,
    when SIGTERM already has a handler (an application's own, or an enclosing run's)."""
    if threading.current_thread() is not threading.main_thread() or (
            only_if_default and signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise make(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        if threading.current_thread() is threading.main_thread():  # a stack may be stopped from another thread
            signal.signal(signal.SIGTERM, previous)


def sigterm_as_interrupt() -> contextlib.AbstractContextManager[None]:
    """SIGTERM takes the same clean-up path as Ctrl-C."""
    return sigterm_raises(lambda signum: KeyboardInterrupt(f"signal {signum}"))
