"""Re-export of harness.core.durations, for branches in flight that still import harness.durations (issue 11)."""

from harness.core.durations import *  # noqa: F403
