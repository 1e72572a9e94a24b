import itertools

import pytest

from harness.core.errors import HarnessError
from harness.load.profile import (
    ArrivalSchedule,
    ConstantArrivalRate,
    ConstantUsers,
    Ramp,
    Spike,
    Steps,
    profile_from_dict,
    profile_from_spec,
    profile_to_dict,
)


def test_constant_users_ticks_until_duration_then_stops():
    p = ConstantUsers(users=7, duration_s=10)
    assert p.tick(0)[0] == 7
    assert p.tick(9.99)[0] == 7
    assert p.tick(10) is None


def test_ramp_is_linear_then_holds():
    p = Ramp(start_users=0, end_users=100, ramp_s=10, hold_s=5)
    assert [p.users_at(t) for t in (0, 5, 10, 12)] == [0, 50, 100, 100]
    assert p.tick(14.9)[0] == 100
    assert p.tick(15) is None
    assert p.tick(1)[1] >= 10  # spawns at least as fast as the ramp climbs


def test_steps_follow_each_pair_in_order():
    p = Steps(steps=((5, 2), (10, 3), (1, 1)))
    assert [p.users_at(t) for t in (0, 1.9, 2, 4.9, 5, 5.99)] == [5, 5, 10, 10, 1, 1]
    assert p.duration_s == 6
    assert p.tick(6) is None


def test_spike_phases():
    p = Spike(base_users=2, spike_users=50, before_s=3, spike_s=2, after_s=3)
    assert [p.users_at(t) for t in (0, 3, 4.9, 5, 7.9)] == [2, 50, 50, 2, 2]
    assert p.users_at(8) is None


def test_arrival_rate_keeps_users_at_the_cap_and_ends_after_grace():
    p = ConstantArrivalRate(rate_per_s=50, duration_s=4, max_users=20)
    assert p.tick(0)[0] == 20
    assert p.tick(100) is None


def test_schedule_gives_exact_intended_times_and_count():
    s = ArrivalSchedule(rate_per_s=10, duration_s=2)
    times = []
    while (t := s.next(100.0)) is not None:
        times.append(t)
    assert len(times) == 20
    assert times[0] == 100.0 and times[-1] == pytest.approx(101.9)
    assert all(b - a == pytest.approx(0.1) for a, b in itertools.pairwise(times))


def test_schedule_is_independent_of_when_tickets_are_taken():
    # A stalled consumer takes tickets late; the intended times do not move (open model).
    s = ArrivalSchedule(rate_per_s=4, duration_s=1)
    assert s.next(0.0) == 0.0
    assert s.next(50.0) == 0.25


def test_workers_split_the_schedule_without_overlap():
    p = ConstantArrivalRate(rate_per_s=30, duration_s=1)
    parts = []
    for i in range(3):
        s = p.schedule(i, 3)
        got = []
        while (t := s.next(0.0)) is not None:
            got.append(round(t, 9))
        parts.append(got)
    merged = sorted(t for part in parts for t in part)
    assert len(merged) == 30 and len(set(merged)) == 30


@pytest.mark.parametrize("profile", [
    ConstantUsers(users=3, duration_s=5, think_s=(0.0, 0.1)),
    Ramp(start_users=1, end_users=9, ramp_s=4, hold_s=1),
    Steps(steps=((1, 1.0), (2, 2.0))),
    Spike(base_users=1, spike_users=4, before_s=1, spike_s=1, after_s=1),
    ConstantArrivalRate(rate_per_s=12.5, duration_s=3, max_users=4),
])
def test_round_trip_through_json_dict(profile):
    assert profile_from_dict(profile_to_dict(profile)) == profile


@pytest.mark.parametrize("make, fragment", [
    (lambda: ConstantUsers(users=0, duration_s=1), "users"),
    (lambda: Ramp(start_users=0, end_users=0, ramp_s=1), "at least one user"),
    (lambda: Steps(steps=()), "at least one"),
    (lambda: Spike(base_users=5, spike_users=5, before_s=1, spike_s=1, after_s=1), "must exceed"),
    (lambda: ConstantArrivalRate(rate_per_s=0, duration_s=1), "rate_per_s"),
    (lambda: ConstantUsers(users=1, duration_s=1, think_s=(2.0, 1.0)), "think_s"),
    (lambda: profile_from_dict({"kind": "sawtooth"}), "unknown load profile kind"),
])
def test_bad_profiles_say_what_is_wrong(make, fragment):
    with pytest.raises(HarnessError, match=fragment):
        make()


def test_profile_from_scenario_spec():
    assert isinstance(profile_from_spec("constant_rate", rate=20, duration=10), ConstantArrivalRate)
    steps = profile_from_spec("steps", users=8, duration=8)
    assert isinstance(steps, Steps) and steps.users_at(7.9) == 8 and steps.duration_s == pytest.approx(8)
    spike = profile_from_spec("spike", users=30, duration=9)
    assert isinstance(spike, Spike) and spike.duration_s == pytest.approx(9)
    with pytest.raises(HarnessError):
        profile_from_spec("zigzag")
