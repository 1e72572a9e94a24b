"""Re-export of harness.core.result, for branches in flight that still import harness.scenario.result (issue 11)."""

from harness.core.result import *  # noqa: F403
