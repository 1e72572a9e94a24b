"""Scenarios: the model and its validation, the runner, and pure verdicts over the timeline."""
