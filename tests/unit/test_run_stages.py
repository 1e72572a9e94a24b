"""tests/run-stages.sh, the driver of `make test`, on a throwaway Makefile: stages in order, `a+b` side by side,
the time of each, and a SIGTERM that leaves nothing of a group behind."""

import signal
import subprocess
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "run-stages.sh"

MAKEFILE = """\
first:
\t@echo first-out
slow:
\t@sleep 1; echo slow-out
broken:
\t@echo broken-out; exit 3
long:
\t@echo $$$$ > long.pid; sleep 60; echo never
never:
\t@echo never-run
"""


def _run(tmp_path: Path, *stages: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "Makefile").write_text(MAKEFILE)
    return subprocess.run(["bash", str(SCRIPT), *stages], cwd=tmp_path, capture_output=True, text=True,
                          timeout=30)


def test_a_group_runs_side_by_side_prints_each_log_whole_and_fails_if_a_part_fails(tmp_path: Path) -> None:
    res = _run(tmp_path, "first", "slow+broken", "never")
    out = res.stdout
    assert res.returncode == 2                      # make's exit for a failed recipe
    assert "never-run" not in out                   # the stages after a failed group do not run
    # broken ends first and is printed first, whole; slow is printed when it ends, not cut in
    assert out.index("---- broken") < out.index("broken-out") < out.index("---- slow") < out.index("slow-out")
    times = out[out.index("make test: time per stage"):]
    assert "first " in times and "slow+broken" in times and "wall time of the group" in times
    assert "FAILED (exit 2), beside the others of slow+broken" in times   # broken's line
    assert "ok, beside the others of slow+broken" in times                # slow's: a failure beside it does not stop it


def test_sigterm_stops_every_part_of_a_group_and_leaves_no_log_directory(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text(MAKEFILE)
    before = {p.name for p in Path("/tmp").glob("harness-stages.*")}
    proc = subprocess.Popen(["bash", str(SCRIPT), "slow+long"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    pid_file = tmp_path / "long.pid"
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    long_shell = int(pid_file.read_text())
    time.sleep(1.5)                                 # slow has ended; long still runs
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode != 0
    assert "slow-out" in out and "never" not in out.replace("never-run", "")
    deadline = time.monotonic() + 5
    while Path(f"/proc/{long_shell}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{long_shell}").exists(), "the long part's recipe outlived the SIGTERM"
    assert {p.name for p in Path("/tmp").glob("harness-stages.*")} == before
