"""Start steps run concurrently as soon as their dependencies are done (threads; the work is waiting)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from harness.core.errors import HarnessError


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[], None]
    after: tuple[str, ...] = ()


def run_steps(steps: Sequence[Step], cancel: threading.Event) -> list[str]:
    """Run every step once its ``after`` steps succeeded. On the first failure, set ``cancel`` (running
    steps poll it), let running steps finish, and raise that first error. Returns completion order."""
    by_name = {s.name: s for s in steps}
    for s in steps:
        missing = [d for d in s.after if d not in by_name]
        if missing:
            raise HarnessError(f"start step {s.name!r} depends on unknown step(s) {missing}")
    done: list[str] = []
    pending = dict(by_name)
    running: dict[Future[None], str] = {}
    first_error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=max(1, len(steps)), thread_name_prefix="stack-start") as pool:
        try:
            while pending or running:
                if first_error is None:
                    for name in [n for n, s in pending.items() if all(d in done for d in s.after)]:
                        running[pool.submit(pending.pop(name).run)] = name
                if not running:
                    if first_error is None:
                        raise HarnessError(f"start steps cannot proceed (dependency cycle?): {sorted(pending)}")
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in finished:
                    name = running.pop(fut)
                    exc = fut.exception()
                    if exc is None:
                        done.append(name)
                    elif first_error is None:
                        first_error = exc
                        cancel.set()
        except BaseException:
            # Ctrl-C / SIGTERM in the main thread: make running steps give up, then unwind.
            cancel.set()
            raise
    if first_error is not None:
        raise first_error
    return done
