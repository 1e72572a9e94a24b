"""``harness config``: print the effective configuration and each value's source (cli, env HARNESS_<NAME>,
pyproject, command default, default), resolved as every command resolves it."""

from __future__ import annotations

import argparse
import json

from harness.config import AUDIT_DEFAULTS, Config, resolve_flags


def render(cfg: Config) -> str:
    """One line per setting: name, value, source; a list of files one per line."""
    lines = []
    for name, value in cfg.as_dict().items():
        items = [str(v) for v in value] if isinstance(value, tuple) else [str(value)]
        source = f"({cfg.sources[name]})"
        lines.append(f"{name:<20} {(items or [''])[0]:<60} {source}")
        lines += [f"{'':<20} {item}" for item in items[1:]]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="harness config", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print as JSON")
    parser.add_argument("--command", choices=("audit",), help="as this command resolves it (audit defaults to the "
                        "seed guides' rule files and Alertmanager config)")
    parser.add_argument("--backend")
    parser.add_argument("--time-scale", type=float)
    parser.add_argument("--rules", nargs="+", metavar="FILE")
    parser.add_argument("--alertmanager-config", metavar="FILE")
    parser.add_argument("--load-workers", type=int)
    args = parser.parse_args(argv)
    cfg = resolve_flags(args, AUDIT_DEFAULTS if args.command == "audit" else None)
    if args.json:
        print(json.dumps({"values": cfg.as_dict(), "sources": dict(cfg.sources)}, indent=2))
        return 0
    print(render(cfg))
    return 0
