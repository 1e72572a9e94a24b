"""The stack's small core: ports, binaries, readiness strategies, supervised processes, run state."""
