"""Run the betting API under uvicorn.

    python stack/api/serve.py --host 127.0.0.1 --port 8000 [--workers N]

Configuration comes from the environment: BETTING_PRIMARY_DSN, BETTING_REPLICA_DSN, BETTING_REDIS_URL,
BETTING_DB_TIMEOUT_S (default 1.0), BETTING_REDIS_TIMEOUT_S (default 0.25), BETTING_POOL_MAX (default 10)
and PROMETHEUS_MULTIPROC_DIR (needed when --workers > 1). Ready when GET /healthz answers 200.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Workers are spawned processes that import betting_api by name; they inherit PYTHONPATH.
sys.path.insert(0, str(HERE))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)


def _prepare_multiproc_dir(workers: int) -> str | None:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if workers <= 1 and not path:
        return None
    if not path:
        path = tempfile.mkdtemp(prefix="betting-api-prom-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
        print(f"serve: --workers {workers} needs PROMETHEUS_MULTIPROC_DIR; using {path}", file=sys.stderr)
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    # Files left by a previous run would be merged into this run's counters.
    for entry in directory.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the reference betting API with uvicorn.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    parser.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")

    from betting_api.settings import SettingsError, settings_from_env

    try:
        settings_from_env()
    except SettingsError as exc:
        print(f"serve: configuration error: {exc}", file=sys.stderr)
        return 2
    _prepare_multiproc_dir(args.workers)

    import uvicorn

    uvicorn.run(
        "betting_api.asgi:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        # Per-request access logs would cost more CPU than the queries on a 2-core machine.
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
