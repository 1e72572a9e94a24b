"""Re-export of harness.core.timeline, for branches in flight that still import harness.timeline (issue 11)."""

from harness.core.timeline import *  # noqa: F403
