"""Re-export of harness.core.clock, for branches in flight that still import harness.clock (issue 11)."""

from harness.core.clock import *  # noqa: F403
