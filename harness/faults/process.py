"""Process faults on any stack service, through ``stack.process(name)``: crash, freeze, stop, restart."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from harness.core.errors import HarnessError
from harness.core.protocols import FaultTarget, ProcessHandle
from harness.faults.fault import Fault
from harness.host.proctree import signal_tree

if TYPE_CHECKING:
    from harness.faults.injector import Faults

GroupSignaller = Callable[[ProcessHandle, int], None]


def signal_process_group(handle: ProcessHandle, sig: int) -> None:
    """Send ``sig`` to the service's whole process tree: its process group and every descendant.

    Signalling only the main pid is not enough: SIGSTOP on a postmaster leaves its backends answering
    queries (the database does not look frozen), and SIGKILL on it leaves backends holding shared memory,
    so the restart fails. The process group is not enough either: Postgres children call setsid(), each
    leading its own group, so they are found by walking /proc. A backend that owns the processes (e.g.
    Docker) may offer ``signal_group`` instead.
    """
    own = getattr(handle, "signal_group", None)
    if callable(own):
        own(sig)
        return
    pid = handle.pid
    if pid is None:
        raise HarnessError("the service has no pid (not running, or a backend without local processes)")
    pgid = os.getpgid(pid)
    # Not a group leader: signalling its group could hit the harness itself.
    signal_tree(pid, sig, pgid=pgid if pgid == pid and pgid != os.getpgrp() else None)


class _ProcessFault(Fault):
    def __init__(self, target: FaultTarget, *, fault_id: str, service: str, params: Mapping[str, Any],
                 signaller: GroupSignaller = signal_process_group) -> None:
        super().__init__(target, fault_id=fault_id, target_name=service, params=params)
        self.service = service
        self._signal = signaller
        self._handle: ProcessHandle | None = None

    @classmethod
    def build(cls, faults: Faults, target: str | None, params: Mapping[str, Any], fault_id: str) -> Fault:
        """The kind's ``build`` (harness.faults.kinds): every process fault is built alike."""
        return cls(faults.stack, fault_id=fault_id, service=str(target), params=params,
                   signaller=faults.signal_group)

    @property
    def handle(self) -> ProcessHandle:
        if self._handle is None:
            self._handle = self._target.process(self.service)
        return self._handle

    def _ensure_running(self) -> Mapping[str, Any]:
        if self.handle.running:
            return {"restarted": False}
        self.handle.start()
        return {"restarted": True, "pid": self.handle.pid}


class CrashFault(_ProcessFault):
    """SIGKILL the whole process tree, like a host losing power; started again at the end."""

    kind = "crash"

    def _apply(self) -> Mapping[str, Any]:
        pid = self.handle.pid
        if not self.handle.running:
            raise HarnessError(f"service {self.service!r} is not running; nothing to crash")
        self._signal(self.handle, signal.SIGKILL)
        try:
            self.handle.kill()  # lets the handle reap the process and note that it is gone
        except (ProcessLookupError, HarnessError):
            pass
        return {"pid": pid}

    def _undo(self) -> Mapping[str, Any]:
        if self._handle is None:  # never got as far as finding the process
            return {}
        return self._ensure_running()


class FreezeFault(_ProcessFault):
    """SIGSTOP the whole process tree (postgres backends freeze with their postmaster); SIGCONT at the end."""

    kind = "freeze"

    def _apply(self) -> Mapping[str, Any]:
        if not self.handle.running:
            raise HarnessError(f"service {self.service!r} is not running; nothing to freeze")
        pid = self.handle.pid
        self._signal(self.handle, signal.SIGSTOP)
        return {"pid": pid}

    def _undo(self) -> Mapping[str, Any]:
        if self._handle is None:
            return {}
        try:
            self._signal(self.handle, signal.SIGCONT)
        except (ProcessLookupError, HarnessError):
            return {"resumed": False}  # it died while frozen; nothing left to thaw
        return {"resumed": True}


class StopFault(_ProcessFault):
    """Graceful stop (the service's own shutdown path); started again at the end."""

    kind = "stop"

    def _apply(self) -> Mapping[str, Any]:
        pid = self.handle.pid
        self.handle.stop(float(self.params.get("timeout", 10.0)))
        return {"pid": pid}

    def _undo(self) -> Mapping[str, Any]:
        if self._handle is None:
            return {}
        return self._ensure_running()


class RestartFault(_ProcessFault):
    """Graceful stop and start at once; the fault lasts until the service is ready again."""

    kind = "restart"
    instant = True

    def _apply(self) -> Mapping[str, Any]:
        old = self.handle.pid
        self.handle.stop(float(self.params.get("timeout", 10.0)))
        self.handle.start()
        return {"old_pid": old, "pid": self.handle.pid}

    def _undo(self) -> Mapping[str, Any]:
        if self._handle is None:
            return {}
        return self._ensure_running()
