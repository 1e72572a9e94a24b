"""``harness config``: print the effective configuration and each value's source."""

from __future__ import annotations

import argparse
import json

from harness.config import resolve_config


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="harness config", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print as JSON")
    parser.add_argument("--backend")
    parser.add_argument("--time-scale", type=float)
    args = parser.parse_args(argv)
    cfg = resolve_config({"backend": args.backend, "time_scale": args.time_scale})
    if args.json:
        print(json.dumps({"values": cfg.as_dict(), "sources": dict(cfg.sources)}, indent=2))
        return 0
    for name, value in cfg.as_dict().items():
        print(f"{name:<20} {value!s:<50} ({cfg.sources[name]})")
    return 0
