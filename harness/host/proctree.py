"""The process tree under a pid, read from /proc (Linux)."""

from __future__ import annotations

import os


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children first), from /proc. Postgres backends call setsid(), so
    they leave the postmaster's process group: signalling the group alone misses them."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                ppid = int(fh.read().decode(errors="replace").rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    todo = list(parents.get(pid, ()))
    while todo:
        child = todo.pop(0)
        out.append(child)
        todo.extend(parents.get(child, ()))
    return out


def signal_tree(pid: int, sig: int, *, pgid: int | None) -> list[int]:
    """Send ``sig`` to ``pid``'s process group ``pgid`` (or to ``pid`` alone when None) and to every
    descendant, found before signalling: a killed parent's children are re-parented out of reach.

    Descendants already gone are skipped; an error signalling the head is raised after the descendants
    were signalled. Returns the pids signalled (the head first, when it was)."""
    tree = descendants(pid)
    sent: list[int] = []
    head_error: OSError | None = None
    try:
        if pgid is None:
            os.kill(pid, sig)
        else:
            os.killpg(pgid, sig)
        sent.append(pid)
    except OSError as exc:
        head_error = exc
    for child in tree:
        try:
            os.kill(child, sig)
            sent.append(child)
        except (ProcessLookupError, PermissionError):
            pass
    if head_error is not None:
        raise head_error
    return sent
