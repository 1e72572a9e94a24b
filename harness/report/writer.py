"""Write a run's report directory: reports/<run-id>/{index.html, summary.json, junit.xml, events.jsonl,
records/, scenarios/} and point reports/latest at it.

Called from ``finally`` blocks with whatever the run produced, so each piece is written on its own:
a missing records file or an unreadable one becomes a note in the report, never an exception that
would hide the run's real error. Files are written to a temporary name and renamed, so a reader never
sees half a file, and ``latest`` is swapped atomically.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.report.coverage import compute_coverage
from harness.report.junit import render_junit
from harness.report.model import RuleCoverage, RunReport
from harness.report.page import plotly_js, render_page
from harness.report.series import Series, bin_records, load_records
from harness.report.summary import EVENTS_FILE, SUMMARY_FILE, build_summary, load_run_report

log = logging.getLogger(__name__)

INDEX_FILE = "index.html"
JUNIT_FILE = "junit.xml"
LATEST = "latest"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._") or "scenario"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _copy_into(src: Path, dest_dir: Path, name: str, run_dir: Path) -> str:
    """Copy ``src`` into ``dest_dir`` as ``name`` (unless it already lives in the report); return the path
    relative to ``run_dir``."""
    if _inside(src, run_dir):
        return str(src.resolve().relative_to(run_dir.resolve()))
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / name
    if src.is_dir():
        shutil.copytree(src, dest, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dest)
    return str(dest.relative_to(run_dir))


def _records_paths(run: RunReport) -> dict[str, Path]:
    paths = {name: Path(p) for name, p in run.records.items()}
    for s in run.scenarios:
        if s.name not in paths and s.records_file:
            paths[s.name] = Path(s.records_file)
    return paths


def _copy_records(run: RunReport, run_dir: Path, notes: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, src in _records_paths(run).items():
        if not src.exists():
            notes.append(f"records for {name!r} not found at {src} (the load generator may not have started)")
            continue
        try:
            out[name] = _copy_into(src, run_dir / "records", f"{_safe(name)}{''.join(src.suffixes)}", run_dir)
        except OSError as exc:
            notes.append(f"records for {name!r} could not be copied from {src}: {exc}")
    return out


def _copy_scenarios(run: RunReport, run_dir: Path, notes: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    used: set[str] = set()
    for s in run.scenarios:
        if not s.file:
            continue
        src = Path(s.file)
        if not src.is_file():
            if not _inside(src, run_dir):
                notes.append(f"scenario file {src} of {s.name!r} not found; not copied")
            continue
        name = src.name
        while name in used:
            name = f"{_safe(s.name)}-{name}"
        used.add(name)
        try:
            out[s.name] = _copy_into(src, run_dir / "scenarios", name, run_dir)
        except OSError as exc:
            notes.append(f"scenario file {src} could not be copied: {exc}")
    return out


def _series(run: RunReport, run_dir: Path, records: dict[str, str],
            notes: list[str]) -> list[tuple[Series | None, str]]:
    cache: dict[Path, Any] = {}
    out: list[tuple[Series | None, str]] = []
    for s in run.scenarios:
        rel = records.get(s.name)
        if rel is None:
            out.append((None, "no request records for this scenario"))
            continue
        if run.mono_start is None:
            out.append((None, "records cannot be placed on the run clock: the run's mono_start is unknown"))
            continue
        path = run_dir / rel
        try:
            if path not in cache:
                cache[path] = load_records(path)
            series = bin_records(cache[path], run.mono_start, s.started, max(s.ended, s.started + 1.0))
        except Exception as exc:
            notes.append(f"records of {s.name!r} ({rel}) unreadable: {type(exc).__name__}: {exc}")
            out.append((None, f"records unreadable: {type(exc).__name__}"))
            continue
        dropped = int(getattr(cache[path], "dropped_bytes", 0) or 0)
        if dropped:
            notes.append(f"records of {s.name!r}: a torn chunk of {dropped} bytes at the end was dropped "
                         "(the load generator was killed mid-write)")
        out.append((series, "" if series.total else "the records hold no request inside this scenario's window"))
    return out


def _coverage(run: RunReport, notes: list[str]) -> RuleCoverage | None:
    if run.coverage is not None:
        return run.coverage
    if not run.rule_alerts and not run.events and not run.scenarios:
        return None
    try:
        return compute_coverage(run.rule_alerts, run.scenarios, run.events, run.receivers)
    except Exception as exc:
        notes.append(f"coverage could not be computed: {type(exc).__name__}: {exc}")
        return None


def update_latest(reports_dir: Path, run_dir: Path) -> None:
    """Point reports/latest at run_dir with a relative symlink, swapped in one rename."""
    link = reports_dir / LATEST
    tmp = reports_dir / f".{LATEST}.tmp-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(run_dir.name if run_dir.parent.resolve() == reports_dir.resolve() else run_dir.resolve(),
                   target_is_directory=True)
    try:
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _write_html(run: RunReport, run_dir: Path, coverage: RuleCoverage | None, records: dict[str, str],
                notes: list[str]) -> None:
    parts = _series(run, run_dir, records, notes)
    files = [("summary.json", SUMMARY_FILE), ("junit.xml", JUNIT_FILE), ("events.jsonl", EVENTS_FILE)]
    files += [(f"records: {name}", rel) for name, rel in records.items()]
    try:
        js = plotly_js()
    except OSError as exc:
        notes.append(f"plotly.js unavailable ({exc}); charts are not drawn. Hint: pip install plotly")
        js = ""
    shown = RunReport(**{**run.__dict__, "notes": list(notes)})
    _atomic_write(run_dir / INDEX_FILE, render_page(shown, coverage, parts, files, js))


def write_report(run: RunReport, reports_dir: Path) -> Path:
    """Write everything that can be written; return the path of index.html."""
    run_dir = Path(reports_dir) / _safe(run.run_id)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HarnessError(f"cannot create the report directory {run_dir}: {exc}",
                           hint="set reports_dir (HARNESS_REPORTS_DIR) to a writable directory") from exc
    notes = list(run.notes)
    records = _copy_records(run, run_dir, notes)
    scenario_files = _copy_scenarios(run, run_dir, notes)
    try:
        _atomic_write(run_dir / EVENTS_FILE, "".join(ev.to_json() + "\n" for ev in run.events))
    except OSError as exc:
        notes.append(f"events.jsonl not written: {exc}")
    coverage = _coverage(run, notes)
    steps = (
        (JUNIT_FILE, lambda: _atomic_write(run_dir / JUNIT_FILE, render_junit(run))),
        (INDEX_FILE, lambda: _write_html(run, run_dir, coverage, records, notes)),
    )
    for name, step in steps:
        try:
            step()
        except Exception as exc:
            log.exception("report: %s not written", name)
            notes.append(f"{name} not written: {type(exc).__name__}: {exc}")
    # Written last so it carries every note the other steps added.
    try:
        summary = build_summary(RunReport(**{**run.__dict__, "notes": notes}), coverage, records, scenario_files)
        _atomic_write(run_dir / SUMMARY_FILE, json.dumps(summary, indent=2, sort_keys=False, default=str) + "\n")
    except Exception as exc:
        log.exception("report: summary.json not written")
        notes.append(f"summary.json not written: {exc}")
    try:
        update_latest(Path(reports_dir), run_dir)
    except OSError as exc:
        log.warning("report: could not update %s/latest: %s", reports_dir, exc)
    return run_dir / INDEX_FILE


def rebuild_index(run_dir: Path) -> Path:
    """Re-render index.html from summary.json and events.jsonl (records are read from the report's copies)."""
    run = load_run_report(run_dir)
    notes = [n for n in run.notes if not n.startswith(f"{INDEX_FILE} not written")]
    records = {name: str(Path(p).relative_to(run_dir)) for name, p in run.records.items()}
    coverage = run.coverage if run.coverage is not None else _coverage(run, notes)
    _write_html(run, run_dir, coverage, records, notes)
    return run_dir / INDEX_FILE
