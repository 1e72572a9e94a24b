"""The backup job against a real primary: scheduled pg_dump, verified dumps, metrics, control endpoint."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_services import (
    PG_BIN,
    REPO_ROOT,
    Proc,
    Services,
    _spawn,
    _wait,
    free_port,
    get_json,
    metric_samples,
    metric_value,
    request_json,
    running_services,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Services]]:
    with running_services(replica=False, redis=False, scale=0.05) as svc:
        port = free_port()
        dumps = tmp_path_factory.mktemp("dumps")
        argv = [sys.executable, "stack/backup/backup_job.py", "--dsn", svc.primary.dsn(), "--dir", str(dumps),
                "--interval", "1", "--host", "127.0.0.1", "--port", str(port)]
        proc: Proc = _spawn("backup", argv, svc.root / "backup.log", None, cwd=REPO_ROOT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait("backup job", proc, lambda: get_json(url + "/healthz", timeout=1)[0] == 200, 10)
            yield url, dumps, svc
        finally:
            proc.stop()


def _metrics(url: str) -> str:
    status, text = get_json(url + "/metrics")
    assert status == 200 and isinstance(text, str)
    return text


def _wait_for(predicate: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)


def test_backups_run_on_schedule_and_are_restorable(backup: tuple[str, Path, Services]) -> None:
    url, dumps, _ = backup
    _wait_for(lambda: metric_value(_metrics(url), "backup_runs_total") >= 2)
    text = _metrics(url)
    last = metric_value(text, "backup_last_success_timestamp")
    assert time.time() - 10 < last <= time.time()
    assert metric_value(text, "backup_failures_total") == 0
    assert 0 < metric_value(text, "backup_duration_seconds") < 10
    files = sorted(dumps.glob("betting-*.dump"))
    assert 1 <= len(files) <= 3
    listing = subprocess.run([str(PG_BIN / "pg_restore"), "--list", str(files[-1])], capture_output=True, text=True,
                             check=True).stdout
    assert "TABLE DATA public bets" in listing


def test_control_injects_failures_and_backdates(backup: tuple[str, Path, Services]) -> None:
    url, _, _ = backup
    _wait_for(lambda: ("backup_last_success_timestamp", ()) in metric_samples(_metrics(url)))
    status, state = request_json("POST", url + "/control", b'{"fail": true, "last_success_age_seconds": 90000}')
    assert status == 200 and isinstance(state, dict) and state["fail"] is True
    failures = metric_value(_metrics(url), "backup_failures_total")
    _wait_for(lambda: metric_value(_metrics(url), "backup_failures_total") >= failures + 2)
    age = time.time() - metric_value(_metrics(url), "backup_last_success_timestamp")
    assert 90000 <= age < 90030  # failing backups do not move the last success
    status, state = get_json(url + "/control")
    assert status == 200 and isinstance(state, dict) and "injected" in state["last_error"]
    assert request_json("POST", url + "/control", b'{"fail": "yes"}')[0] == 400
    assert request_json("POST", url + "/control", b'{"nope": 1}')[0] == 400
    assert request_json("POST", url + "/control", b'{"fail": false}')[0] == 200
    _wait_for(lambda: time.time() - metric_value(_metrics(url), "backup_last_success_timestamp") < 10)


def test_unreachable_database_counts_failures(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, "stack/backup/backup_job.py", "--dsn",
            f"postgresql://postgres@127.0.0.1:{free_port()}/betting", "--dir", str(tmp_path / "d"),
            "--interval", "0.5", "--host", "127.0.0.1", "--port", str(port)]
    proc = _spawn("backup-bad", argv, tmp_path / "log", None, cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait("backup job", proc, lambda: get_json(url + "/healthz", timeout=1)[0] == 200, 10)
        _wait_for(lambda: metric_value(_metrics(url), "backup_failures_total") >= 1)
        text = _metrics(url)
        assert ("backup_last_success_timestamp", ()) not in metric_samples(text)
        assert not list((tmp_path / "d").glob("*.dump"))
        state = get_json(url + "/control")[1]
        assert isinstance(state, dict) and "pg_dump failed" in state["last_error"]
    finally:
        proc.stop()
