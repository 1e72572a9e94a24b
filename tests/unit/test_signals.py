"""SIGTERM as an exception: raised inside, the previous handler back on every exit, nothing off the main thread."""

import os
import signal
import threading

import pytest

from harness.signals import sigterm_as_interrupt, sigterm_raises


def previous_handler(signum, frame):  # a stand-in for an application's own handler
    raise AssertionError("the previous handler must not run while the block is open")


@pytest.fixture
def own_handler():
    before = signal.signal(signal.SIGTERM, previous_handler)
    yield
    signal.signal(signal.SIGTERM, before)


def test_sigterm_raises_keyboard_interrupt_and_the_previous_handler_comes_back(own_handler):
    with pytest.raises(KeyboardInterrupt, match="signal 15"), sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is previous_handler


def test_the_previous_handler_comes_back_after_an_ordinary_exit_and_an_error(own_handler):
    with sigterm_as_interrupt():
        assert signal.getsignal(signal.SIGTERM) is not previous_handler
    assert signal.getsignal(signal.SIGTERM) is previous_handler
    with pytest.raises(RuntimeError), sigterm_as_interrupt():
        raise RuntimeError("boom")
    assert signal.getsignal(signal.SIGTERM) is previous_handler


def test_only_if_default_leaves_an_existing_handler_alone(own_handler):
    with sigterm_raises(lambda n: SystemExit(128 + n), only_if_default=True):
        assert signal.getsignal(signal.SIGTERM) is previous_handler


def test_nothing_changes_off_the_main_thread(own_handler):
    seen = []

    def body():
        with sigterm_as_interrupt():
            seen.append(signal.getsignal(signal.SIGTERM))

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert seen == [previous_handler]
