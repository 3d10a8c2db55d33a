"""Calendar arithmetic: anchors kept, month ends clamped, leap years, zones, DST, ISO-8601 parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.cycle import BillingCycle, CycleUnit, InvalidCycle

MONTHLY = BillingCycle.parse("P1M")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_jan_31_anchor_clamps_to_month_end_and_returns_to_the_31st() -> None:
    anchor = utc(2027, 1, 31, 9)
    boundaries = [MONTHLY.boundary(anchor, n) for n in range(4)]
    assert boundaries == [utc(2027, 1, 31, 9), utc(2027, 2, 28, 9), utc(2027, 3, 31, 9), utc(2027, 4, 30, 9)]


def test_leap_year_february_has_29_days() -> None:
    assert MONTHLY.boundary(utc(2028, 1, 31), 1) == utc(2028, 2, 29)


def test_feb_29_anchor_yearly_clamps_then_returns_in_the_next_leap_year() -> None:
    yearly = BillingCycle.parse("P1Y")
    anchor = utc(2028, 2, 29)
    assert [yearly.boundary(anchor, n) for n in (1, 4)] == [utc(2029, 2, 28), utc(2032, 2, 29)]


def test_months_are_counted_from_the_anchor_never_chained() -> None:
    # Chaining Jan 31 -> Feb 28 -> Mar 28 would drift; from the anchor it is Mar 31.
    anchor = utc(2027, 1, 31)
    assert MONTHLY.boundary(anchor, 2) == utc(2027, 3, 31)
    assert MONTHLY.boundary(anchor, 13) == utc(2028, 2, 29)


def test_anchor_is_taken_in_the_contract_zone() -> None:
    # 00:30 on Mar 1 in Shanghai is 16:30 on Feb 28 UTC: the anchor day is the 1st, not the 28th.
    anchor = datetime(2027, 2, 28, 16, 30, tzinfo=UTC)
    start, end = MONTHLY.period(anchor, 1, "Asia/Shanghai")
    assert start == datetime(2027, 3, 31, 16, 30, tzinfo=UTC)  # Apr 1, 00:30 in Shanghai
    assert end == datetime(2027, 4, 30, 16, 30, tzinfo=UTC)  # May 1, 00:30 in Shanghai


def test_daily_cycles_keep_local_wall_clock_across_dst() -> None:
    daily = BillingCycle.parse("P1D")
    anchor = datetime(2027, 3, 13, 14, 0, tzinfo=UTC)  # 10:00 in New York, before DST starts on Mar 14
    next_day = daily.boundary(anchor, 1, "America/New_York")
    assert next_day - anchor == timedelta(hours=23)


def test_second_cycles_are_fixed_elapsed_time() -> None:
    assert BillingCycle.parse("PT1M").boundary(utc(2027, 1, 1), 3) == utc(2027, 1, 1, 0, 3)


@pytest.mark.parametrize(
    ("text", "unit", "count"),
    [
        ("P1M", CycleUnit.MONTHS, 1),
        ("P1Y2M", CycleUnit.MONTHS, 14),
        ("P30D", CycleUnit.DAYS, 30),
        ("P2W", CycleUnit.DAYS, 14),
        ("PT1M", CycleUnit.SECONDS, 60),
        ("PT1H30M", CycleUnit.SECONDS, 5400),
    ],
)
def test_parses_iso_8601_durations(text: str, unit: CycleUnit, count: int) -> None:
    cycle = BillingCycle.parse(text)
    assert (cycle.unit, cycle.count) == (unit, count)
    assert BillingCycle.parse(cycle.to_iso()) == cycle


@pytest.mark.parametrize(
    "text", ["", "P", "PT", "1M", "P1M1D", "P0D", "PT0S", "P-1M", "P1.5M", "P1MT1H", "monthly"]
)
def test_refuses_what_is_not_one_positive_duration(text: str) -> None:
    with pytest.raises(InvalidCycle):
        BillingCycle.parse(text)


def test_naive_anchor_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        MONTHLY.boundary(datetime(2027, 1, 1), 1)
