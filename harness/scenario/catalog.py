"""Re-export of harness.core.catalog, for branches in flight that still import harness.scenario.catalog (issue 11)."""

from harness.core.catalog import *  # noqa: F403
