"""Alert-verification harness: prove alerts, SLO math and latency budgets work before release.

The library works without pytest; ``harness.pytest_plugin`` is a thin layer over it.
Heavy modules (Locust, docker, plotly) are imported lazily by the modules that need them.
"""

from harness.core.clock import RunClock
from harness.core.errors import HarnessError
from harness.core.timeline import Event, Timeline

__all__ = ["Event", "HarnessError", "RunClock", "Timeline"]
__version__ = "0.1.0"
