"""pytest plugin: a thin layer over the harness library (registered through the pytest11 entry point).

Options: --backend, --rules, --alertmanager-config, --time-scale. YAML scenarios under scenarios/ are
collected as test items, and fixtures (stack, load, faults, alerts, slo) expose the library. Nothing
heavy is imported until a fixture or scenario item needs it.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "alert-verification harness")
    group.addoption("--backend", default=None, help="stack backend: local (default), docker or external")
    group.addoption("--rules", nargs="+", default=None, metavar="FILE", help="rule files to verify")
    group.addoption("--alertmanager-config", default=None, metavar="FILE", help="Alertmanager config to verify")
    group.addoption("--time-scale", type=float, default=None, help="compress time by this factor (1 = real)")
