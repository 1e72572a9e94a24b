"""Durations as Prometheus writes them ("1h30m", "5m", "250ms"), parsed to float seconds and back."""

from __future__ import annotations

import re

_UNITS = {"y": 365 * 86400.0, "w": 7 * 86400.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|y|w|d|h|m|s)")
_ORDER = ("y", "w", "d", "h", "m", "s", "ms")


def parse_duration(text: str | int | float) -> float:
    """Seconds in a duration string. Bare numbers are seconds. Raises ValueError with the reason."""
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"negative duration: {text}")
        return float(text)
    s = str(text).strip()
    if not s:
        raise ValueError("empty duration")
    try:
        value = float(s)
    except ValueError:
        pass
    else:
        if value < 0:
            raise ValueError(f"negative duration: {s}")
        return value
    pos, total = 0, 0.0
    for match in _PART.finditer(s):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(s):
        raise ValueError(f"not a duration: {s!r} (use e.g. 30s, 5m, 1h30m, 250ms)")
    return total


def format_duration(seconds: float) -> str:
    """Shortest Prometheus duration for ``seconds``, rounded to whole milliseconds (at least 1ms)."""
    ms = max(1, round(seconds * 1000))
    parts = []
    for unit in _ORDER:
        size = round(_UNITS[unit] * 1000)
        if ms >= size:
            count, ms = divmod(ms, size)
            parts.append(f"{count}{unit}")
    return "".join(parts)


def format_whole(seconds: float) -> str:
    """A duration rounded to whole seconds for people ("1m30s"); "<1s" under half a second."""
    return format_duration(round(seconds)) if seconds >= 0.5 else "<1s"
