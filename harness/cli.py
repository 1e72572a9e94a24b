"""The ``harness`` command. Each subcommand lives in the module that owns it and is imported lazily,
so ``harness status`` never pays for Locust or plotly imports."""

from __future__ import annotations

import importlib
import sys

from harness import __version__
from harness.core.errors import HarnessError

# subcommand -> ("module:function", one-line help). Each function takes argv (list[str]) -> exit code.
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("harness.stack.cli:main_up", "start the reference stack (Ctrl-C stops it; --detach returns)"),
    "down": ("harness.stack.cli:main_down", "stop a detached stack and sweep what dead runs left"),
    "status": ("harness.stack.cli:main_status", "show each service's health"),
    "config": ("harness.config_cli:main", "print the effective configuration and where each value came from"),
    "check": ("harness.rules.check:main", "promtool/amtool checks, metrics each rule needs, routing table"),
    "verify": ("harness.scenario.cli:main_verify", "run the scenario suite against given rule files"),
    "audit": ("harness.scenario.cli:main_audit", "run the suite against the seeds' packs as published"),
    "mutate": ("harness.scenario.cli:main_mutate", "mutation testing: which rule edits does the suite catch"),
    "drill": ("harness.scenario.cli:main_drill", "run one scenario with a live terminal view"),
    "demo": ("harness.scenario.cli:main_demo", "a short tour: reference pack, SLO, published defects"),
    "coverage": ("harness.scenario.coverage_cli:main_coverage",
                 "run every failure mode the stack can inject: what fires, who is notified, who is paged"),
    "map": ("harness.scenario.map_proposal:main",
            "propose a map of the scenarios' alert and receiver names to your pack's, with reasons"),
    "kinds": ("harness.scenario.reference:main",
              "the scenario format: every fault and expectation kind, its fields and an example"),
    "report": ("harness.report.cli:main", "rebuild or locate a run's report"),
    "toxiproxy-server": ("harness.toxiproxy_server.__main__:main", "serve the Toxiproxy 2.x API"),
}


def usage() -> str:
    lines = ["usage: harness COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<17} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "`harness COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if args[0] in ("-V", "--version"):
        print(f"harness {__version__}")
        return 0
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"harness: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    target, _ = COMMANDS[command]
    module_name, func_name = target.split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    try:
        return int(func(rest) or 0)
    except HarnessError as exc:
        print(f"harness {command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"harness {command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
