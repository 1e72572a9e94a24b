"""junit.xml: one testcase per scenario; failures carry expected and observed; broken runs are errors."""

import xml.etree.ElementTree as ET

from harness.core.result import ERROR, FAIL, PASS, UNSUPPORTED, ScenarioResult, Verdict
from harness.report.junit import render_junit
from harness.report.model import RunReport


def scenario(name, verdicts, error=None):
    return ScenarioResult(name=name, file=f"scenarios/{name}.yaml", started=0, ended=12.5, time_scale=60,
                          verdicts=verdicts, error=error)


def parse(run):
    root = ET.fromstring(render_junit(run).split("\n", 1)[1])
    return root, root.find("testsuite")


def test_one_testcase_per_scenario_with_failure_details():
    run = RunReport(run_id="r1", kind="verify", scenarios=[
        scenario("ok", [Verdict("fires", "A", PASS, "within 5m", "after 3s")]),
        scenario("bad", [Verdict("fires", "B", FAIL, "firing within 5m", "never fired",
                                 evidence={"promql": "up == 0", "values": []})]),
    ])
    _root, suite = parse(run)
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["ok", "bad"]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert "expected firing within 5m" in failure.get("message")
    assert "observed: never fired" in failure.text
    assert "promql: up == 0" in failure.text
    assert cases[1].get("time") == "12.500"


def test_scenario_error_and_unevaluated_expectation_are_errors():
    run = RunReport(run_id="r2", scenarios=[
        scenario("crashed", [], error="stack failed to start\npostgres exited 1"),
        scenario("query", [Verdict("slo", "x", ERROR, "", "query failed")]),
        scenario("partial", [Verdict("inhibited", "y", UNSUPPORTED, "", "needs docker")]),
    ])
    _, suite = parse(run)
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["crashed"].find("error").get("message") == "stack failed to start"
    assert cases["query"].find("error") is not None
    assert cases["partial"].find("error") is None and cases["partial"].find("failure") is None
    assert suite.get("errors") == "2"


def test_interrupted_run_adds_a_failing_case():
    run = RunReport(run_id="r3", interrupted=True, scenarios=[scenario("ok", [])])
    _, suite = parse(run)
    assert suite.get("errors") == "1"
    assert suite.findall("testcase")[-1].get("name") == "(run)"
