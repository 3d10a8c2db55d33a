from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from models.dunning import DunningPolicy


def test_default_policy_waits_one_three_five_days_then_stops() -> None:
    policy = DunningPolicy()
    assert [policy.delay_after(n) for n in (1, 2, 3, 4)] == [
        timedelta(days=1),
        timedelta(days=3),
        timedelta(days=5),
        None,
    ]


def test_last_delay_repeats_when_attempts_outnumber_delays() -> None:
    policy = DunningPolicy(delays_seconds=(60,), max_attempts=4)
    assert [policy.delay_after(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=1)] * 3 + [None]


def test_single_attempt_policy_never_retries() -> None:
    assert DunningPolicy(max_attempts=1).delay_after(1) is None


@pytest.mark.parametrize("delays", [(), (0,), (-5, 10)])
def test_refuses_empty_or_non_positive_delays(delays: tuple[int, ...]) -> None:
    with pytest.raises(ValidationError):
        DunningPolicy(delays_seconds=delays)
