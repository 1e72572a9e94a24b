"""The plugin end to end through pytester: YAML scenarios are collected, and a bad one stops the run at
collection, naming file, line and field, before any service starts."""

import numpy  # noqa: F401  (imported here, not first inside a pytester run: its C module loads once per process)
import pytest

pytest_plugins = ["pytester"]

GOOD = """\
name: redis-blip
duration: 10m
load: {profile: none}
faults:
  - {kind: crash, target: redis, start: 3m, duration: 20s}
expect:
  - silent: RedisDown
"""


def _write(pytester: pytest.Pytester, name: str, text: str) -> None:
    d = pytester.path / "scenarios"
    d.mkdir(exist_ok=True)
    (d / name).write_text(text)


def test_yaml_scenarios_are_collected(pytester: pytest.Pytester) -> None:
    _write(pytester, "redis_blip.yaml", GOOD)
    result = pytester.runpytest("--collect-only", "-q", "scenarios")
    result.stdout.fnmatch_lines(["scenarios/redis_blip.yaml::redis-blip"])
    assert result.ret == 0


def test_the_scenarios_that_run_alone_are_collected_last(pytester: pytest.Pytester) -> None:
    # QueryLatencyHigh reads a p95 of a few ms: its scenario needs the machine to itself, so it goes after the
    # others (one block at the end, not a wait in the middle of a parallel run), whatever its name.
    _write(pytester, "a_latency.yaml", GOOD.replace("name: redis-blip", "name: a-latency")
           .replace("silent: RedisDown", "silent: QueryLatencyHigh"))
    _write(pytester, "b_plain.yaml", GOOD)
    _write(pytester, "c_plain.yaml", GOOD.replace("name: redis-blip", "name: c-plain"))
    result = pytester.runpytest("--collect-only", "-q", "scenarios")
    result.stdout.fnmatch_lines(["scenarios/b_plain.yaml::redis-blip", "scenarios/c_plain.yaml::c-plain",
                                 "scenarios/a_latency.yaml::a-latency"])
    assert result.ret == 0


def test_bad_scenario_fails_at_collection_with_location(pytester: pytest.Pytester) -> None:
    _write(pytester, "redis_blip.yaml", GOOD.replace("silent: RedisDown", "silent: RedisDwn")
           .replace("target: redis,", "target: rediss,"))
    result = pytester.runpytest("-q", "scenarios")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*2 problem(s) in scenario files:*",
        "*redis_blip.yaml:5: faults?0?.target: unknown service 'rediss'*",
        "*redis_blip.yaml:7: silent: alert 'RedisDwn' is not in the loaded rule packs*",
    ])


def test_scenario_of_other_pack_is_reported_not_applicable(pytester: pytest.Pytester) -> None:
    rules = pytester.path / "mine.yml"
    rules.write_text("groups:\n  - name: g\n    rules:\n      - alert: Mine\n        expr: up == 0\n")
    _write(pytester, "redis_blip.yaml", GOOD)
    result = pytester.runpytest("-q", "-rs", "scenarios", "--rules", str(rules))
    result.stdout.fnmatch_lines(["*not applicable: the rule files lack RedisDown*"])
    assert result.ret == pytest.ExitCode.OK


def test_a_stack_that_cannot_start_fails_every_scenario_and_still_writes_the_report(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # The docker backend with no engine fails at once: no service is started, nothing is retried.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/harness-no-engine.sock")
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(pytester.path / "reports"))
    _write(pytester, "redis_blip.yaml", GOOD)
    _write(pytester, "redis_blip2.yaml", GOOD.replace("name: redis-blip", "name: redis-blip-2"))
    junit = pytester.path / "out.xml"
    result = pytester.runpytest("-q", "scenarios", "--backend", "docker", f"--junitxml={junit}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*no Docker engine is reachable*", "*2 failed*"])
    assert junit.read_text().count("no Docker engine is reachable") >= 2
    summaries = [p for p in (pytester.path / "reports").glob("*/summary.json") if p.parent.name != "latest"]
    assert len(summaries) == 1
    import json

    summary = json.loads(summaries[0].read_text())
    assert "the stack did not start" in summary["error"] and summary["ok"] is False
    assert (summaries[0].parent / "index.html").is_file()


def test_rule_files_come_from_the_environment_as_for_every_command(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = pytester.path / "mine.yml"
    rules.write_text("groups:\n  - name: g\n    rules:\n      - alert: Mine\n        expr: up == 0\n")
    monkeypatch.setenv("HARNESS_RULES", str(rules))
    _write(pytester, "redis_blip.yaml", GOOD)
    result = pytester.runpytest("-q", "-rs", "scenarios")
    result.stdout.fnmatch_lines(["*not applicable: the rule files lack RedisDown*"])
    monkeypatch.setenv("HARNESS_ALERTMANAGER_CONFIG", str(pytester.path / "missing-am.yml"))
    result = pytester.runpytest("-q", "scenarios")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*file not found: *missing-am.yml*"])
