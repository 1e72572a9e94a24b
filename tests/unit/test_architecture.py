"""The shape of the package, read from the source with ast (nothing is imported).

A *package* is a top-level name under ``harness/`` (``harness/scenario/`` -> ``scenario``, ``harness/config.py``
-> ``config``). The package graph has an edge A -> B when a module of A imports a module of B at module level
(imports under ``if TYPE_CHECKING:`` do not count: they never run).

- The package graph has no cycle.
- The core imports nothing but the core: adapters (stacks, faults, load, observation, reports) depend on it,
  never the reverse; and no adapter imports the scenario runner, the suite or the commands.
- An import of a harness module inside a function is the exception: each one is listed in LAZY below with
  the reason it is not at module level.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "harness"

# Pure modules: the model of a run, its timeline and verdicts. They import nothing else of the harness.
CORE = {"core"}
# Adapters: they depend on the core (and on shared plumbing: config, host, signals), never on the scenario
# runner, the suite or the commands, which compose them.
ADAPTERS = {"faults", "load", "observe", "report", "rules", "slo", "stack", "toxiproxy_server"}
ORCHESTRATION = {"scenario", "cli", "pytest_plugin"}

# (importing module, imported module) -> why the import sits inside a function. Times are marginal import
# times measured with `python -X importtime` / perf_counter on the development machine (issue 11).
PLUGIN = "start-up: the pytest plugin loads in every pytest session; the suite costs it ~400 ms (measured)"
# harness.scenario.run, .runner and .suite are on the path of `harness verify --help` and of the plugin's
# collection: the stack (51 ms), the report (76 ms), the load and SLO check (43 ms) load when a run needs them.
RUN_ADAPTER = "start-up: the run's adapters load when a run needs them; 113 ms off `verify --help` (measured)"
LAZY: dict[tuple[str, str], str] = {
    ("harness.faults.kinds.error_ratio", "harness.faults.achieved"):
        "cycle inside faults: faults.achieved reads the kinds registry, which imports every kind",
    ("harness.faults.kinds.query_latency", "harness.faults.achieved"):
        "cycle inside faults: faults.achieved reads the kinds registry, which imports every kind",
    ("harness.load.entry", "harness.load.betting"):
        "behaviour: Locust takes every User class in the locustfile's namespace; a user file replaces these",
    ("harness.pytest_plugin", "harness.config"): PLUGIN,
    ("harness.pytest_plugin", "harness.scenario.run"): PLUGIN,
    ("harness.pytest_plugin", "harness.scenario.suite"): PLUGIN,
    ("harness.pytest_plugin", "harness.scenario.validate"): PLUGIN,
    ("harness.pytest_plugin", "harness.scenario.alertmap"): PLUGIN,
    ("harness.pytest_plugin", "harness.scenario.runner"): PLUGIN,
    ("harness.pytest_plugin", "harness.core.model"): PLUGIN,
    ("harness.pytest_plugin", "harness.faults"): PLUGIN,
    ("harness.pytest_plugin", "harness.load"): PLUGIN,
    ("harness.pytest_plugin", "harness.observe.prometheus"): PLUGIN,
    ("harness.pytest_plugin", "harness.slo.math"): PLUGIN,
    ("harness.report.sample", "harness.load.records"):
        "optional: falls back to a plain .npz where harness.load is not importable",
    ("harness.report.series", "harness.load.records"):
        "optional: falls back to a plain .npz where harness.load is not importable",
    ("harness.scenario.alertmap", "harness.config"):
        "no cycle; left for alertmap.py's owner, who is editing it in parallel",
    ("harness.scenario.run", "harness.stack"): RUN_ADAPTER,
    ("harness.scenario.run", "harness.stack.measure"): RUN_ADAPTER,
    ("harness.scenario.run", "harness.report"): RUN_ADAPTER,
    ("harness.scenario.run", "harness.report.dashboards"): RUN_ADAPTER,
    ("harness.scenario.run", "harness.report.model"): RUN_ADAPTER,
    ("harness.scenario.runner", "harness.load"): RUN_ADAPTER,
    ("harness.scenario.runner", "harness.load.profile"): RUN_ADAPTER,
    ("harness.scenario.runner", "harness.load.records"): RUN_ADAPTER,
    ("harness.scenario.runner", "harness.faults.achieved"): RUN_ADAPTER,
    ("harness.scenario.runner", "harness.scenario.slo_check"): RUN_ADAPTER,
    ("harness.scenario.suite", "harness.scenario.slo_check"): RUN_ADAPTER,
    ("harness.scenario.suite", "harness.slo.spec"): RUN_ADAPTER,
    ("harness.scenario.suite", "harness.scenario.alertmap"): "start-up: only with --map (8 ms, measured)",
    ("harness.scenario.cli", "harness.load.records"): "start-up: only `harness drill` reads records (25 ms, measured)",
    ("harness.scenario.cli", "harness.scenario.mutate"):
        "start-up: only `harness mutate` needs it; 64 ms off every other scenario command (measured)",
    ("harness.scenario.map_proposal", "harness.scenario.suite"):
        "start-up: `harness map --help` and usage errors answer without the suite, 437 ms (measured)",
    ("harness.stack", "harness.stack.local"):
        "start-up: a run needs one backend; local 166 ms, docker 59 ms, external 5 ms (measured)",
    ("harness.stack", "harness.stack.docker"):
        "start-up: a run needs one backend; local 166 ms, docker 59 ms, external 5 ms (measured)",
    ("harness.stack", "harness.stack.external"):
        "start-up: a run needs one backend; local 166 ms, docker 59 ms, external 5 ms (measured)",
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "harness"


def _owner(name: str) -> str | None:
    """The harness module that ``name`` (a module, or a name imported from one) lives in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imported(node: ast.Import | ast.ImportFrom, module: str) -> set[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            parts = module.split(".")
            if MODULES[module].name != "__init__.py":
                parts = parts[:-1]
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        names = [f"{base}.{alias.name}" for alias in node.names] or [base]
    owners = {_owner(n) for n in names if n == "harness" or n.startswith("harness.")}
    return {o for o in owners if o and o != module}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _scan() -> tuple[dict[str, set[str]], list[tuple[str, int, str]]]:
    """Module-level imports per module, and every import inside a function or class body."""
    top: dict[str, set[str]] = defaultdict(set)
    nested: list[tuple[str, int, str]] = []

    def walk(module: str, body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                top[module] |= _imported(node, module)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node):
                    walk(module, node.body)
                walk(module, node.orelse)
            elif isinstance(node, ast.Try):
                walk(module, node.body)
                for handler in node.handlers:
                    walk(module, handler.body)
                walk(module, node.orelse)
                walk(module, node.finalbody)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        nested.extend((module, inner.lineno, target) for target in sorted(_imported(inner, module)))

    for module, path in MODULES.items():
        walk(module, ast.parse(path.read_text(), str(path)).body)
    return top, nested


TOP, NESTED = _scan()


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, targets in TOP.items():
        for target in targets:
            if _package(module) != _package(target):
                graph[_package(module)].add(_package(target))
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_packages():
    assert _cycles(package_graph()) == []


def test_core_imports_only_the_core():
    leaks = sorted(f"{module} -> {target}" for module, targets in TOP.items() if _package(module) in CORE
                   for target in targets if _package(target) not in CORE)
    assert leaks == []


def test_adapters_never_import_the_orchestration():
    graph = package_graph()
    assert sorted(f"{a} -> {b}" for a in ADAPTERS for b in graph.get(a, ()) if b in ORCHESTRATION) == []


def test_every_import_inside_a_function_has_a_reason():
    unlisted = sorted({f"{m}:{line} imports {t}" for m, line, t in NESTED if (m, t) not in LAZY})
    assert unlisted == [], "import at module level, or add the pair to LAZY with the reason"


def test_the_lazy_list_has_no_stale_entry():
    used = {(m, t) for m, _, t in NESTED}
    assert sorted(set(LAZY) - used) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
