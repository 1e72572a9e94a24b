"""Re-export of harness.core.errors, for branches in flight that still import harness.errors (issue 11)."""

from harness.core.errors import *  # noqa: F403
