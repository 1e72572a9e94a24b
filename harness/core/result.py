"""Values a scenario run produces: verdicts and results. Pure data, JSON-serialisable.

A verdict is the outcome of one expectation: what was expected, what was observed, over which window,
and the evidence (PromQL and the values it returned) to show when it failed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASS = "pass"
FAIL = "fail"
ERROR = "error"          # the expectation could not be evaluated (e.g. a query failed)
UNSUPPORTED = "unsupported"  # cannot be exercised on this machine; the reason says why


@dataclass(frozen=True)
class Verdict:
    check: str                      # e.g. "fires", "silent", "resolves", "notified", "inhibited", "slo", "error_budget"
    subject: str                    # alertname, receiver, SLO or endpoint
    status: str                     # PASS | FAIL | ERROR | UNSUPPORTED
    expected: str
    observed: str
    window: tuple[float, float] | None = None   # run-clock seconds
    # Detection latency (s) and its theoretical minimum (s), for "fires" checks.
    latency: float | None = None
    min_latency: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == PASS

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def value_lines(self, points: int = 6, series: int = 4) -> list[str]:
        """The end of each evidence series (what the rule's value side returned up to the window's end), one
        line per series, for a terminal: enough to tell a threshold still crossed from an alert that lagged.
        Series of the alert's own labels only, when the evidence names them."""
        want = {k: v for k, v in (self.evidence.get("labels") or {}).items() if k not in ("alertname", "severity")}
        out: list[str] = []
        for key, value in self.evidence.items():
            if not key.startswith("values of "):
                continue
            expr = key[len("values of "):]
            expr = expr if len(expr) <= 90 else expr[:87] + "..."
            if isinstance(value, str):
                out.append(f"{expr}: {value}")
                continue
            shown = [s for s in value if all(s["series"].get(k, v) == v for k, v in want.items())]
            for s in shown[:series]:
                tail = ", ".join(f"{t:.1f}s {float(v):.4g}" for t, v in s["t_v"][-points:])
                labels = ",".join(f"{k}={v}" for k, v in sorted(s["series"].items()))
                out.append(f"{expr} {{{labels}}}: {tail or 'no points'}")
            if len(shown) > series:
                out.append(f"{expr}: {len(shown) - series} more series in the report")
        return out


@dataclass
class ScenarioResult:
    name: str
    file: str
    started: float                  # run-clock seconds
    ended: float
    time_scale: float
    verdicts: list[Verdict] = field(default_factory=list)
    # Fault windows on the run clock: [{"id", "kind", "target", "start", "end", "params"}]
    faults: list[dict[str, Any]] = field(default_factory=list)
    # SLO rows: ground truth beside Prometheus (see harness.slo.compare)
    slo: list[dict[str, Any]] = field(default_factory=list)
    records_file: str | None = None  # raw request records for this scenario
    error: str | None = None         # set when the run itself failed (not an expectation)
    notes: list[str] = field(default_factory=list)  # what the reader should know (alerts active at start)
    # The rerun of a failed scenario at a low scale, before its failures are reported as defects:
    # {"time_scale", "passed", "error", "failed": ["check subject", ...], "verdicts": [...]}
    confirmation: dict[str, Any] | None = None

    def failed_keys(self) -> list[str]:
        return [f"{v.check} {v.subject}" for v in self.verdicts if v.status == FAIL]

    @property
    def confirmed_ok(self) -> bool:
        """Passed, or every failure failed to reproduce when confirmed at a low scale (compression-sensitive)."""
        if self.passed:
            return True
        c = self.confirmation
        return self.error is None and c is not None and c.get("error") is None \
            and not set(self.failed_keys()) & set(c.get("failed", []))

    @property
    def unexercised(self) -> list[Verdict]:
        """Every verdict, when all are UNSUPPORTED (the scenario exercised nothing here); else none."""
        if self.verdicts and all(v.status == UNSUPPORTED for v in self.verdicts):
            return list(self.verdicts)
        return []

    @property
    def passed(self) -> bool:
        return self.error is None and all(v.status in (PASS, UNSUPPORTED) for v in self.verdicts)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passed"] = self.passed
        return d
