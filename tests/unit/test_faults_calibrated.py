"""Calibrated faults against the API's real control logic behind a fake HTTP session. No services."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.core.errors import HarnessError
from harness.core.timeline import FAULT_END, Timeline
from harness.faults import FaultError, Faults, FaultSpecError, spec_problems
from harness.faults.achieved import from_records
from harness.load.records import RequestRecords

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "stack" / "api"))

from betting_api.control import Control, ControlError

from harness.faults.spec import API_QUERIES, API_ROUTES


class Clock:
    def now(self) -> float:
        return 1.0


class Stack:
    def __init__(self) -> None:
        self.clock = Clock()
        self.timeline = Timeline()
        self.urls = {"api": "http://api:1"}
        self.proxies: dict[str, tuple[str, str]] = {}
        self.services = {"api": object()}


class Reply:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self.text = json.dumps(body)

    def json(self) -> Any:
        return json.loads(self.text)


class ApiSession:
    """Routes /admin/faults/{kind} to a real Control, as the API's admin route does."""

    def __init__(self, control: Control | None = None, status: int | None = None) -> None:
        self.headers: dict[str, str] = {}
        self.control = control or Control(API_ROUTES, API_QUERIES)
        self.status = status
        self.calls: list[tuple[str, str, Any]] = []

    def request(self, method: str, url: str, json: Any = None, timeout: float | None = None) -> Reply:
        assert timeout is not None
        self.calls.append((method, url, json))
        if self.status is not None:
            return Reply(self.status, {"error": "x"})
        kind = url.rsplit("/", 1)[1]
        try:
            body = self.control.set(kind, json) if method == "POST" else self.control.clear(kind)
        except ControlError as exc:
            return Reply(400, {"error": "bad_request", "message": str(exc)})
        return Reply(200, body)


def test_error_ratio_sets_the_api_and_reports_what_it_achieved() -> None:
    stack, session = Stack(), ApiSession()
    faults = Faults(stack, session=session)  # type: ignore[arg-type]
    with faults.error_ratio(0.02, endpoint="/api/active-bets") as fault:
        assert session.calls[0] == ("POST", "http://api:1/admin/faults/error_ratio",
                                    {"ratio": 0.02, "endpoint": "/api/active-bets"})
        for _ in range(100):
            session.control.fail_request("/api/active-bets")
    assert fault.achieved == {"requests": 100, "errors": 2, "achieved_ratio": 0.02}
    assert stack.timeline.events(FAULT_END)[0].data["achieved"]["errors"] == 2


def test_cache_hit_ratio_and_query_latency_reach_the_api() -> None:
    session = ApiSession()
    faults = Faults(Stack(), session=session)  # type: ignore[arg-type]
    with faults.cache_hit_ratio(0.85), faults.query_latency("query2", 3):
        assert session.control.cache_hit_ratio is not None and session.control.query_latency is not None
        assert session.control.query_delay_s("query2") == pytest.approx(0.003)
    assert session.control.cache_hit_ratio is None and session.control.query_latency is None


def test_a_multiprocess_api_is_refused_and_left_clean() -> None:
    session = ApiSession(Control(API_ROUTES, API_QUERIES, multiprocess=True))
    with pytest.raises(FaultError, match="several worker processes") as err:
        Faults(Stack(), session=session).error_ratio(0.1).start()  # type: ignore[arg-type]
    assert "--api-workers 1" in str(err.value)
    assert session.control.error_ratio is None


def test_an_api_without_the_control_interface_says_so() -> None:
    with pytest.raises(FaultError, match="no control interface"):
        Faults(Stack(), session=ApiSession(status=404)).query_latency("query1", 5).start()  # type: ignore[arg-type]


def test_a_stack_without_an_api() -> None:
    stack = Stack()
    stack.urls = {}
    with pytest.raises(FaultError, match="no API"):
        Faults(stack, session=ApiSession()).cache_hit_ratio(0.5).start()  # type: ignore[arg-type]


@pytest.mark.parametrize("kind,params,field,message", [
    ("error_ratio", {}, "params.ratio", "missing"),
    ("error_ratio", {"ratio": 0.0}, "params.ratio", "must be in (0, 1]"),
    ("error_ratio", {"ratio": 0.02, "endpoint": "/api/bet"}, "params.endpoint", "must be one of"),
    ("cache_hit_ratio", {"ratio": 1.2}, "params.ratio", "must be in [0, 1]"),
    ("query_latency", {"query": "query5", "latency_ms": 5}, "params.query", "must be one of"),
    ("query_latency", {"query": "query1", "latency_ms": 1500}, "params.latency_ms", "database deadline"),
    ("query_latency", {"query": "query1"}, "params.latency_ms", "missing"),
])
def test_calibrated_fault_specs_name_the_field(kind: str, params: dict, field: str, message: str) -> None:
    problems = spec_problems(kind, None, params)
    assert [p.field for p in problems] == [field]
    assert message in problems[0].problem


def test_calibrated_faults_act_on_the_api_only() -> None:
    (problem,) = spec_problems("error_ratio", "redis", {"ratio": 0.1})
    assert problem.field == "target" and "acts on 'api'" in problem.problem
    with pytest.raises(FaultSpecError):
        Faults(Stack(), session=ApiSession()).from_spec("query_latency", None, {"query": "q"})  # type: ignore[arg-type]


def _records(endpoints: list[str], status: list[int]) -> RequestRecords:
    n = len(status)
    t = np.arange(n, dtype=float)
    return RequestRecords(intended=t, start=t, end=t + 0.01, endpoint=np.array(endpoints),
                          method=np.array(["GET"] * n), status=np.asarray(status, dtype=np.int32),
                          error=np.array([""] * n), bytes=np.zeros(n, dtype=np.int64))


def test_ground_truth_error_ratio_of_one_endpoint_and_of_all() -> None:
    rec = _records(["/a", "/a", "/a", "/a", "/b", "/b"], [200, 500, 200, 200, 503, 0])
    assert from_records("error_ratio", {"endpoint": "/a"}, rec) == {"requests": 4, "errors_5xx": 1, "ratio": 0.25,
                                                                     "no_response": 0}
    overall = from_records("error_ratio", {}, rec)
    assert overall["ratio"] == pytest.approx(2 / 5) and overall["no_response"] == 1
    assert from_records("fill_redis", {}, rec) == {}


def test_harness_routes_and_queries_match_the_api() -> None:
    # The spec validates scenario files without importing the API: its lists must be the API's own.
    from betting_api.app import USER_ROUTES
    from betting_api.metrics import QUERY_NAMES

    assert API_ROUTES == USER_ROUTES and API_QUERIES == QUERY_NAMES


def test_an_http_error_names_the_request() -> None:
    with pytest.raises(HarnessError):
        Faults(Stack(), session=ApiSession(status=500)).error_ratio(0.1).start()  # type: ignore[arg-type]


def test_ground_truth_of_a_query_latency_is_its_endpoints_latency() -> None:
    rec = _records(["/api/users/{id}/bets"] * 2 + ["/api/bets"], [200, 200, 500])
    truth = from_records("query_latency", {"query": "query2"}, rec)
    assert truth["endpoint"] == "GET /api/users/{id}/bets" and truth["requests"] == 2
    assert truth["p95_ms"] == pytest.approx(10.0)
    assert from_records("query_latency", {"query": "query4"}, rec)["requests"] == 0
