"""Choosing the throughput phases' load: enough subscriptions that the baseline is bound by the machine, not
by its timers. A rate measured below saturation says how well each side keeps a schedule, not what it can
do (DESIGN.md section 7)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    load: int  # subscriptions (bare workflows) run at once
    rate: float  # periods per second they made


@dataclass(frozen=True)
class Saturation:
    load: int  # the load chosen
    saturated: bool  # False: the search stopped at its ceiling with the rate still rising
    steps: tuple[Step, ...]


def chosen_load(steps: list[Step], *, min_gain: float) -> int | None:
    """The load to measure at, once doubling it last raised the rate by less than `min_gain` (a fraction):
    the smaller of the two, as its rate is within `min_gain` of the larger's. None while still rising."""
    if len(steps) < 2:
        return None
    before, last = steps[-2], steps[-1]
    if last.rate < before.rate * (1 + min_gain):
        return before.load
    return None


async def find_saturating_load(
    measure: Callable[[int], Awaitable[float]], *, start: int, ceiling: int, min_gain: float = 0.10
) -> Saturation:
    """Double the load from `start` until the rate stops rising by `min_gain`, or the next doubling would
    pass `ceiling` (then the ceiling's load is used, flagged as not saturated)."""
    if start < 1 or ceiling < start:
        raise ValueError(f"need 1 <= start <= ceiling, got start {start} and ceiling {ceiling}")
    steps: list[Step] = []
    load = start
    while True:
        steps.append(Step(load, await measure(load)))
        chosen = chosen_load(steps, min_gain=min_gain)
        if chosen is not None:
            return Saturation(chosen, True, tuple(steps))
        if load * 2 > ceiling:
            return Saturation(load, False, tuple(steps))
        load *= 2


def timer_bound_rate(*, subscriptions: int, periods: int, cycle_seconds: float) -> float:
    """The most periods/s a phase can make when nothing but its timers hold it: every subscription's P
    periods take P - 1 cycles at best (the first period starts at once)."""
    if periods < 2:
        raise ValueError("a phase of fewer than two periods has no timer to wait on")
    return subscriptions * periods / ((periods - 1) * cycle_seconds)


def timer_bound(
    rate: float, *, subscriptions: int, periods: int, cycle_seconds: float, share: float = 0.8
) -> bool:
    """Whether a rate is close enough to its timers' ceiling (`share` of it) that they, not the machine,
    may have bound it."""
    return rate >= share * timer_bound_rate(
        subscriptions=subscriptions, periods=periods, cycle_seconds=cycle_seconds
    )
