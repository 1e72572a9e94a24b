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
