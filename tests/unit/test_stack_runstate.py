import json
import os
import subprocess
from pathlib import Path

from harness.host.runstate import RUN_ENV, RunContext, process_alive, sweep_dead_runs


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _spawn(env_run_id: str | None) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.pop(RUN_ENV, None)
    if env_run_id:
        env[RUN_ENV] = env_run_id
    return subprocess.Popen(["sleep", "30"], env=env, start_new_session=True)


def _fake_run(root: Path, run_id: str, owner: int, pids: dict[str, int]) -> Path:
    run_dir = root / f"harness-{run_id}"
    run_dir.mkdir()
    (run_dir / "pids.json").write_text(json.dumps({"run_id": run_id, "owner_pid": owner, "pids": pids}))
    return run_dir


def test_sweep_kills_a_dead_runs_tagged_processes_and_removes_its_dir(tmp_path: Path) -> None:
    child = _spawn("dead-run")
    run_dir = _fake_run(tmp_path, "dead-run", _dead_pid(), {"redis": child.pid})
    assert sweep_dead_runs(tmp_path) == ["dead-run"]
    assert child.wait(5) == -9
    assert not run_dir.exists()


def test_sweep_never_kills_a_recycled_pid_without_the_tag(tmp_path: Path) -> None:
    stranger = _spawn(None)
    try:
        _fake_run(tmp_path, "dead-run", _dead_pid(), {"redis": stranger.pid})
        sweep_dead_runs(tmp_path)
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_sweep_leaves_live_runs_alone(tmp_path: Path) -> None:
    ctx = RunContext(tmp_path)
    ctx.create()  # owner is this test process, alive
    child = _spawn(ctx.run_id)
    try:
        ctx.record_pid("x", child.pid)
        assert sweep_dead_runs(tmp_path) == []
        assert child.poll() is None
        assert ctx.run_dir.exists()
    finally:
        child.kill()
        child.wait()


def test_process_alive_detects_pid_reuse_by_start_time() -> None:
    assert process_alive(os.getpid())
    assert not process_alive(os.getpid(), start_time=1)
    assert not process_alive(_dead_pid())


def test_sweep_recognises_its_own_process_by_start_time_when_the_tag_is_unreadable(tmp_path: Path) -> None:
    # redis-server overwrites its environment with its title; the recorded start time identifies it.
    from harness.host.runstate import process_start_time

    child = _spawn(None)
    run_dir = _fake_run(tmp_path, "dead-run", _dead_pid(), {"redis": child.pid})
    data = json.loads((run_dir / "pids.json").read_text())
    data["start_times"] = {str(child.pid): process_start_time(child.pid)}
    (run_dir / "pids.json").write_text(json.dumps(data))
    sweep_dead_runs(tmp_path)
    assert child.wait(5) == -9
