"""The reference load's event rates, calibrated once and checked in (``event_rates.json`` beside this module).

A scenario's time scale is bounded by the events its windows hold at its load rate, so it is computed from
what each API counter counts per request (harness.core.resolution). Measured in each suite's 25-second
warm-up, those shares carry sampling noise: the ``/api/bets`` share, 24% by the load profile's task weights,
was measured at 22.4% in one run and 26.5% in the next, so a window near the affordable scale bound the
scale in one run and not in the other, and the same scenario ran at 20 in one run and at 10 in the next.
The scale is computed from this calibration instead, measured over thousands of requests, so a scenario
runs at the same scale in every run. The warm-up still measures: it is compared with the calibration (a
deviation beyond sampling noise is logged and kept in the timeline), and it fills in any series the
calibration lacks.

Regenerate after changing the API or the load profile (harness/load/betting.py), on an idle machine:
``python -m harness.stack.measure`` (about 5 min: stack start, then 240 s of load).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.core.resolution import EventRates

CALIBRATION = Path(__file__).with_name("event_rates.json")


def load_calibration(path: Path = CALIBRATION) -> EventRates:
    """The checked-in event rates; a clear error naming the file and the field when it is malformed."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{path}: cannot read the load's calibrated event rates: {exc}",
                           hint="regenerate it with `python -m harness.stack.measure`") from exc
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for i, row in enumerate(doc.get("per_request") or [] if isinstance(doc, dict) else []):
        try:
            key = (str(row["metric"]), tuple(sorted((str(k), str(v)) for k, v in row["labels"].items())))
            out[key] = float(row["per_request"])
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise HarnessError(f"{path}: per_request[{i}] needs metric, labels (a map) and per_request (a "
                               f"number): {exc!r}",
                               hint="regenerate it with `python -m harness.stack.measure`") from exc
    if not out:
        raise HarnessError(f"{path}: no per_request rows", hint="regenerate it with "
                           "`python -m harness.stack.measure`")
    return EventRates(out)


def calibration_doc(rates: EventRates, *, requests: float, seconds: float, load_rate: float) -> dict[str, Any]:
    return {
        "about": "Events per request of the reference API's counters under the reference load profile "
                 "(harness/load/betting.py); written by `python -m harness.stack.measure`, read by "
                 "harness.stack.measure.warm_up for every scenario's time scale.",
        "load_rate": load_rate,
        "seconds": seconds,
        "requests": round(requests),
        "per_request": [{"metric": metric, "labels": dict(labels), "per_request": round(share, 6)}
                        for (metric, labels), share in sorted(rates.per_request.items()) if share > 0],
    }
