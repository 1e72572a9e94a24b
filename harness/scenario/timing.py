"""Time arithmetic for compressed runs: production durations to real seconds, and the theoretical minimum
and default bound of an alert's detection latency. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.scenario.catalog import AlertRule

# Production-time cadence of the reference stack (the betting guide: scrape every 15 s; its rule groups
# evaluate every 30 s; Prometheus's default evaluation interval is 1 m).
SCRAPE_S = 15.0
EVAL_S = 30.0


# Real seconds that do not compress: a crashed service restarting, exporters and pools reconnecting, the
# alert recorder's polling. Added to default bounds (never to bounds a scenario states).
REAL_SLACK_S = 1.0


@dataclass(frozen=True)
class Timing:
    scale: float
    scrape_s: float = SCRAPE_S
    eval_s: float = EVAL_S
    real_slack_s: float = REAL_SLACK_S

    def real(self, production_s: float) -> float:
        return production_s / self.scale

    def min_fire(self, rule: AlertRule) -> float:
        """Real seconds from fault start to firing at best: the fault shows in the very next scrape, the very
        next evaluation sees it (pending), and the alert fires at the first evaluation at least ``for`` later,
        so ``for`` rounded up to whole evaluation intervals. Scrape and evaluation phase add to this at worst
        one interval each; they are in the default bounds, not in the minimum."""
        interval = rule.interval_s or self.eval_s
        return self.real(math.ceil(rule.for_s / interval - 1e-9) * interval if rule.for_s > 0 else 0.0)

    def min_notify(self, rule: AlertRule, group_wait_s: float) -> float:
        """Real seconds from fault start to the first notification at best: firing, then group_wait."""
        return self.min_fire(rule) + self.real(group_wait_s)

    def default_fire_within(self, rule: AlertRule) -> float:
        """Production seconds allowed for firing when a scenario does not say: ``for``, the rule's widest
        range window (a rate needs it to reflect the fault), and two scrapes and evaluations of slack each."""
        interval = rule.interval_s or self.eval_s
        return rule.for_s + rule.max_window_s + 2 * self.scrape_s + 2 * interval + 4 * interval

    def default_resolve_within(self, rule: AlertRule) -> float:
        interval = rule.interval_s or self.eval_s
        return rule.max_window_s + 2 * self.scrape_s + 4 * interval
