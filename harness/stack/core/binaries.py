"""Locating the service binaries, with an error that names the Debian package to install."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from harness.core.errors import HarnessError

PG_BIN_DIRS = tuple(sorted((str(p) for p in Path("/usr/lib/postgresql").glob("*/bin")), reverse=True))


@dataclass(frozen=True)
class Binary:
    name: str
    package: str
    extra_dirs: tuple[str, ...] = ()


BINARIES: dict[str, Binary] = {
    b.name: b
    for b in (
        Binary("postgres", "postgresql", PG_BIN_DIRS),
        Binary("initdb", "postgresql", PG_BIN_DIRS),
        Binary("pg_basebackup", "postgresql", PG_BIN_DIRS),
        Binary("redis-server", "redis-server"),
        Binary("prometheus", "prometheus"),
        Binary("promtool", "prometheus"),
        Binary("prometheus-alertmanager", "prometheus-alertmanager"),
        Binary("prometheus-postgres-exporter", "prometheus-postgres-exporter"),
        Binary("prometheus-redis-exporter", "prometheus-redis-exporter"),
        Binary("prometheus-node-exporter", "prometheus-node-exporter"),
        Binary("grafana-server", "grafana", ("/usr/share/grafana/bin", "/usr/sbin")),
        Binary("toxiproxy-server", "toxiproxy"),
    )
}


class MissingBinary(HarnessError):
    def __init__(self, binary: Binary, looked_in: list[str]) -> None:
        self.binary = binary
        self.looked_in = looked_in
        super().__init__(
            f"{binary.name} not found: the Debian package {binary.package!r} is not installed",
            detail="looked in: " + (os.pathsep.join(looked_in) or "(empty PATH)"),
            hint=f"install it with `sudo apt-get install -y {binary.package}` (or `make setup`, which installs "
            "every package the stack needs); or put the binary on PATH; or use `--backend docker` where a "
            "Docker engine runs",
        )


def search_dirs(binary: Binary, path: str | None = None) -> list[str]:
    path = os.environ.get("PATH", "") if path is None else path
    dirs = [d for d in path.split(os.pathsep) if d]
    return dirs + [d for d in binary.extra_dirs if d not in dirs]


def find_binary(name: str, *, path: str | None = None) -> str:
    """Absolute path of ``name``; MissingBinary (naming the package and the directories) if absent."""
    binary = BINARIES.get(name) or Binary(name, name)
    dirs = search_dirs(binary, path)
    found = shutil.which(name, path=os.pathsep.join(dirs))
    if found is None:
        raise MissingBinary(binary, dirs)
    return found


def have_binary(name: str, *, path: str | None = None) -> bool:
    try:
        find_binary(name, path=path)
    except MissingBinary:
        return False
    return True
