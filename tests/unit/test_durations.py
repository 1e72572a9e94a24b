import pytest

from harness.core.durations import format_duration, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("5m", 300.0), ("1h30m", 5400.0), ("250ms", 0.25), ("90000", 90000.0), ("0.5", 0.5), ("1d1h", 90000.0),
    (30, 30.0),
])
def test_parse(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5x", "m5", "-1", "5m3", True])
def test_parse_rejects(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize(("seconds", "text"), [(300, "5m"), (0.5, "500ms"), (1500, "25m"), (90000, "1d1h"),
                                               (0.125, "125ms"), (0.0001, "1ms"), (61.5, "1m1s500ms")])
def test_format(seconds, text):
    assert format_duration(seconds) == text


def test_round_trip():
    for s in (1, 15, 60, 3600, 0.25, 86400 * 30):
        assert parse_duration(format_duration(s)) == s
