"""Observation: Prometheus and Alertmanager clients, notification sinks, alert-state recording."""
