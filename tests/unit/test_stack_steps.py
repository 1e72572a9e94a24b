import threading

import pytest

from harness.core.errors import HarnessError
from harness.stack.core.steps import Step, run_steps


def test_steps_run_after_their_dependencies() -> None:
    order: list[str] = []
    steps = [Step("api", lambda: order.append("api"), ("db", "cache")),
             Step("db", lambda: order.append("db")), Step("cache", lambda: order.append("cache"))]
    done = run_steps(steps, threading.Event())
    assert order.index("api") > order.index("db")
    assert order.index("api") > order.index("cache")
    assert done[-1] == "api"


def test_first_error_is_raised_and_dependants_never_start() -> None:
    ran: list[str] = []
    cancel = threading.Event()

    def boom() -> None:
        raise HarnessError("db failed")

    steps = [Step("db", boom), Step("api", lambda: ran.append("api"), ("db",))]
    with pytest.raises(HarnessError, match="db failed"):
        run_steps(steps, cancel)
    assert ran == []
    assert cancel.is_set()


def test_unknown_dependency_is_rejected() -> None:
    with pytest.raises(HarnessError, match="unknown"):
        run_steps([Step("api", lambda: None, ("nope",))], threading.Event())
