"""``harness check``: promtool/amtool checks, the metrics each rule needs, and the routing table.

    harness check [--rules FILE...] [--alertmanager-config FILE] [--time-scale N] [--scrape-interval D]

Says what it understood of each rule file (format: Prometheus, PrometheusRule, Mimir/Cortex/Thanos ruler;
groups; alerting and recording rules; fields kept or dropped) and the role of each receiver. Checks the
files as given and, with ``--time-scale``, the rewritten files too (what the run would load).
Exit status 0 only when every file passes promtool/amtool and Python routing agrees with amtool.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import RULES_DIR, STACK_DIR
from harness.core.durations import format_duration, parse_duration
from harness.core.errors import HarnessError, ValidationError
from harness.core.promql import metric_names
from harness.core.roles import ROLE_PREFIX, receiver_roles
from harness.core.routing import build_route, receivers_for
from harness.core.rule_formats import PLAIN, normalise_rules
from harness.core.topology import SinkUrls
from harness.rules.alertmanager import adapt_alertmanager_config, load_am_yaml
from harness.rules.exported import exported_by
from harness.rules.packs import Rule, RulePack, parse_rules
from harness.rules.timescale import rewrite_rules

DEFAULT_AM_CONFIG = STACK_DIR / "alertmanager" / "alertmanager.yml"
# Production's usual scrape interval; the run scrapes this divided by the time scale.
PRODUCTION_SCRAPE_INTERVAL_S = 15.0
# Routing only needs syntactically valid endpoints; nothing is contacted.
_CHECK_SINKS = SinkUrls(http_base="http://127.0.0.1:9", smtp_host="127.0.0.1", smtp_port=25)


@dataclass(frozen=True)
class ToolResult:
    ok: bool
    output: str


def _tool(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise HarnessError(f"{binary} not found on PATH",
                           hint="install the prometheus / prometheus-alertmanager OS packages "
                                "(stack/install-os-packages.sh)")
    return path


def promtool_check(path: Path) -> ToolResult:
    proc = subprocess.run([_tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True,
                          timeout=60)
    return ToolResult(proc.returncode == 0, (proc.stdout + proc.stderr).strip())


def amtool_receivers(config_path: Path, labels: Mapping[str, str], amtool: str = "amtool") -> list[str]:
    """What ``amtool config routes test`` says for ``labels`` (the routing truth)."""
    args = [amtool, "config", "routes", "test", f"--config.file={config_path}"]
    args += [f"{k}={v}" for k, v in sorted(labels.items()) if v != ""]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise HarnessError(f"amtool routing test failed for {dict(labels)}",
                           detail=(proc.stdout + proc.stderr).strip(),
                           hint=f"run `amtool check-config {config_path}` first")
    return [r for r in proc.stdout.strip().split(",") if r]


def amtool_check(path: Path) -> ToolResult:
    proc = subprocess.run([_tool("amtool"), "check-config", str(path)], capture_output=True, text=True,
                          timeout=60)
    return ToolResult(proc.returncode == 0, (proc.stdout + proc.stderr).strip())


def alert_labels(rule: Rule) -> dict[str, str]:
    """The labels an alert is known to carry before it fires: its rule labels plus alertname."""
    return {**rule.labels, "alertname": rule.name}


def routing_table(rules: list[Rule], am_config_text: str, source: str) -> list[tuple[Rule, list[str]]]:
    doc = load_am_yaml(am_config_text, source)
    root = build_route(doc["route"], source=source)
    return [(r, receivers_for(root, alert_labels(r))) for r in rules if r.kind == "alert"]


def _default_rules() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="harness check", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", nargs="+", type=Path, default=None, help="rule files (default: the stack's packs)")
    ap.add_argument("--alertmanager-config", type=Path, default=DEFAULT_AM_CONFIG)
    ap.add_argument("--time-scale", type=float, default=None, help="also check the files rewritten for this scale")
    ap.add_argument("--scrape-interval", default=None,
                    help=f"scrape interval of the run (default {PRODUCTION_SCRAPE_INTERVAL_S:g}s / time scale)")
    args = ap.parse_args(argv)
    rule_paths: list[Path] = args.rules or _default_rules()
    ok = True
    with tempfile.TemporaryDirectory(prefix="harness-check-") as tmp:
        packs, understood_ok = understand_rule_files(rule_paths, Path(tmp))
        ok &= understood_ok
        ok &= _check_am_and_routing(args, packs, Path(tmp))
    return 0 if ok else 1


def describe_pack(pack: RulePack) -> list[str]:
    """What ``harness check`` understood of one rule file: format, counts, and each note."""
    head = (f"{pack.format}: {len(pack.groups)} group(s), {len(pack.alerts)} alerting rule(s), "
            f"{len(pack.records)} recording rule(s)")
    return [head] + [f"note: {n}" for n in pack.notes]


def understand_rule_files(paths: list[Path], tmp: Path) -> tuple[list[RulePack], bool]:
    """Load each rule file (any accepted format), say what was understood, and run promtool on the plain
    Prometheus file the run would load (the file itself when it already is one)."""
    print("== rule files (what was understood; promtool check rules)")
    packs: list[RulePack] = []
    ok = True
    for i, p in enumerate(paths):
        try:
            text = p.read_text(encoding="utf-8")
            pack = parse_rules(text, str(p))
        except OSError as exc:
            ok = False
            print(f"  FAIL {p}: cannot read: {exc.strerror or exc}")
            continue
        except ValidationError as exc:
            ok = False
            print(f"  FAIL {p}\n       " + str(exc).replace("\n", "\n       "))
            continue
        checked = p
        if pack.format != PLAIN:
            checked = tmp / f"{i:02d}-{p.stem}.plain.yml"
            checked.write_text(normalise_rules(text, str(p)).plain_text())
        res = promtool_check(checked)
        ok &= res.ok
        packs.append(pack)
        suffix = "" if checked == p else " (promtool ran on the plain Prometheus file it becomes)"
        print(f"  {'OK  ' if res.ok else 'FAIL'} {p}{suffix}")
        for line in describe_pack(pack):
            print(f"       {line}")
        if not res.ok:
            print("       " + res.output.replace("\n", "\n       "))
    return packs, ok


def describe_receivers(am_doc: Mapping[str, Any]) -> list[str]:
    """Each receiver of an Alertmanager config with its roles (harness.core.roles), one line each."""
    lines = []
    for recv in am_doc.get("receivers") or []:
        roles = receiver_roles(recv)
        integrations = [k.removesuffix("_configs") for k, v in recv.items() if k.endswith("_configs") and v]
        lines.append(f"{recv.get('name')!s:<28} {', '.join(ROLE_PREFIX + r for r in roles) or '(no role)':<22} "
                     f"[{', '.join(integrations) or 'no integration: notifies nobody'}]")
    return lines


def _check_am_and_routing(args: argparse.Namespace, packs: list[RulePack], tmp: Path) -> bool:
    ok = True
    am_text = args.alertmanager_config.read_text(encoding="utf-8")
    print("== amtool check-config")
    res = amtool_check(args.alertmanager_config)
    print(f"  {'OK  ' if res.ok else 'FAIL'} {args.alertmanager_config} (as given)")
    if not res.ok:
        ok = False
        print("       " + res.output.splitlines()[0] if res.output else "")
    scale = args.time_scale or 1.0
    adapted = tmp / "alertmanager.yml"
    adapted.write_text(adapt_alertmanager_config(am_text, sinks=_CHECK_SINKS, time_scale=scale,
                                                 source=str(args.alertmanager_config)))
    res = amtool_check(adapted)
    ok &= res.ok
    print(f"  {'OK  ' if res.ok else 'FAIL'} adapted for the run (endpoints on local sinks, time scale {scale:g})")
    if not res.ok:
        print("       " + res.output.replace("\n", "\n       "))

    print("== receivers (role from the integration, whatever the name; scenarios may name role:<role>)")
    for line in describe_receivers(load_am_yaml(am_text, str(args.alertmanager_config))):
        print(f"  {line}")

    if args.time_scale:
        scrape_s = (parse_duration(args.scrape_interval) if args.scrape_interval
                    else PRODUCTION_SCRAPE_INTERVAL_S / args.time_scale)
        print(f"== rewrite for time scale {args.time_scale:g} (scrape interval {format_duration(scrape_s)})")
        for i, pack in enumerate(packs):
            p = Path(pack.path)
            out = tmp / f"{i:02d}-{p.stem}.rewritten.yml"
            out.write_text(rewrite_rules(p.read_text(encoding="utf-8"), args.time_scale,
                                         scrape_interval_s=scrape_s, source=str(p)))
            r = promtool_check(out)
            ok &= r.ok
            print(f"  {'OK  ' if r.ok else 'FAIL'} {p} rewritten")

    print("== metrics each rule needs")
    recorded = {r.name for pack in packs for r in pack.records}
    for pack in packs:
        for rule in pack.rules:
            parts = []
            for m in metric_names(rule.expr):
                src = exported_by(m, recorded)
                parts.append(f"{m} ({src})" if src else f"{m} (NOT EXPORTED by the stack)")
            print(f"  {pack.path}:{rule.line} {rule.name}: {', '.join(parts) or '-'}")

    print("== routing (rule labels + alertname; series labels such as instance are added at run time)")
    all_alerts = [r for pack in packs for r in pack.alerts]
    agree = True
    for rule, receivers in routing_table(all_alerts, am_text, str(args.alertmanager_config)):
        truth = amtool_receivers(adapted, alert_labels(rule)) if res.ok else receivers
        same = truth == receivers
        agree &= same
        note = "" if same else f"   (amtool says: {', '.join(truth)})"
        print(f"  {rule.name:<28} {rule.labels.get('severity', '-'):<9} -> {', '.join(receivers)}{note}")
    return ok and agree
