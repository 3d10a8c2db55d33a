"""The throughput phases' load search: doubling until the baseline's rate stops rising, and the timer-bound
warning."""

from __future__ import annotations

import pytest

from bench.saturation import Step, chosen_load, find_saturating_load, timer_bound, timer_bound_rate


def test_no_choice_before_a_doubling() -> None:
    assert chosen_load([Step(100, 90.0)], min_gain=0.1) is None


def test_a_rate_still_rising_by_the_gain_chooses_nothing() -> None:
    assert chosen_load([Step(100, 90.0), Step(200, 100.0)], min_gain=0.1) is None


def test_a_rate_rising_by_less_than_the_gain_chooses_the_smaller_load() -> None:
    assert chosen_load([Step(100, 90.0), Step(200, 98.9)], min_gain=0.1) == 100


def test_a_falling_rate_is_saturated() -> None:
    assert chosen_load([Step(100, 90.0), Step(200, 120.0), Step(400, 110.0)], min_gain=0.1) == 200


async def test_the_search_doubles_until_the_rate_flattens() -> None:
    capacity = {50: 50.0, 100: 95.0, 200: 130.0, 400: 135.0, 800: 136.0}
    asked: list[int] = []

    async def measure(load: int) -> float:
        asked.append(load)
        return capacity[load]

    found = await find_saturating_load(measure, start=50, ceiling=10_000)
    assert asked == [50, 100, 200, 400]
    assert found.load == 200
    assert found.saturated
    assert [step.load for step in found.steps] == asked


async def test_the_search_stops_at_its_ceiling_unsaturated() -> None:
    async def measure(load: int) -> float:
        return float(load)  # never saturates

    found = await find_saturating_load(measure, start=100, ceiling=500)
    assert found.load == 400
    assert not found.saturated
    assert [step.load for step in found.steps] == [100, 200, 400]


async def test_the_search_refuses_a_start_above_its_ceiling() -> None:
    async def measure(load: int) -> float:
        return 1.0

    with pytest.raises(ValueError, match="start <= ceiling"):
        await find_saturating_load(measure, start=200, ceiling=100)


def test_timer_bound_rate_counts_p_minus_one_cycles() -> None:
    assert timer_bound_rate(subscriptions=100, periods=5, cycle_seconds=1.0) == 125.0


def test_a_rate_near_the_timers_ceiling_is_timer_bound() -> None:
    # 100 subscriptions x 5 periods on 1 s: at most 125 periods/s.
    assert timer_bound(110.0, subscriptions=100, periods=5, cycle_seconds=1.0)
    assert not timer_bound(60.0, subscriptions=100, periods=5, cycle_seconds=1.0)


def test_one_period_has_no_timer() -> None:
    with pytest.raises(ValueError, match="no timer"):
        timer_bound_rate(subscriptions=1, periods=1, cycle_seconds=1.0)
