"""Calendar-aligned periods and the prorated first period: where periods start, what share the first one
costs, how it rounds, and which billing days are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.cycle import BillingCycle
from models.money import Money, minor_unit_exponent, prorate_minor
from models.renewal import price_first_plan
from models.schedule import (
    BILLING_DAY_NEEDS_MONTHLY_CYCLE,
    INVALID_BILLING_DAY,
    MIN_FIRST_PERIOD,
    BillingDayRefused,
    FirstPeriod,
    Schedule,
    Share,
)

MONTHLY = BillingCycle.parse("P1M")
YEARLY = BillingCycle.parse("P1Y")


def at(tz: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An instant given as wall-clock time in `tz`, in UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def test_signup_on_the_31st_with_billing_day_1_pays_one_day_then_whole_months() -> None:
    schedule = Schedule(MONTHLY, at("UTC", 2027, 1, 31), "UTC", billing_day=1)

    assert schedule.first_period is FirstPeriod.PRORATED
    assert schedule.period(0) == (at("UTC", 2027, 1, 31), at("UTC", 2027, 2, 1))
    assert schedule.period(1) == (at("UTC", 2027, 2, 1), at("UTC", 2027, 3, 1))
    assert schedule.period(2) == (at("UTC", 2027, 3, 1), at("UTC", 2027, 4, 1))
    # One day of the 31-day month (Jan 1 - Feb 1) that would have held it.
    assert schedule.first_share() == Share(charged=86_400_000_000, full=31 * 86_400_000_000)


def test_periods_are_computed_from_the_billing_day_never_chained() -> None:
    schedule = Schedule(MONTHLY, at("UTC", 2027, 1, 10, 15), "UTC", billing_day=28)
    starts = [schedule.period(n)[0] for n in range(1, 15)]
    assert all(start.day == 28 and start.hour == 0 for start in starts)
    assert schedule.period(13) == (at("UTC", 2028, 1, 28), at("UTC", 2028, 2, 28))


def test_signup_at_the_billing_midnight_pays_a_full_first_period() -> None:
    schedule = Schedule(MONTHLY, at("Europe/Berlin", 2027, 5, 1), "Europe/Berlin", billing_day=1)

    assert schedule.first_period is FirstPeriod.FULL
    assert schedule.first_share() is None
    assert schedule.period(0) == (at("Europe/Berlin", 2027, 5, 1), at("Europe/Berlin", 2027, 6, 1))


def test_a_first_period_shorter_than_the_minimum_is_free_and_folds_into_the_next() -> None:
    signed = at("UTC", 2027, 3, 14, 23, 59)
    schedule = Schedule(MONTHLY, signed, "UTC", billing_day=15)

    assert schedule.first_period is FirstPeriod.FOLDED
    assert schedule.first_share() is None  # a full period's price: the stub costs nothing
    assert schedule.period(0) == (signed, at("UTC", 2027, 4, 15))
    assert schedule.period(1) == (at("UTC", 2027, 4, 15), at("UTC", 2027, 5, 15))


def test_exactly_the_minimum_is_prorated() -> None:
    signed = at("UTC", 2027, 3, 15) - MIN_FIRST_PERIOD
    schedule = Schedule(MONTHLY, signed, "UTC", billing_day=15)

    assert schedule.first_period is FirstPeriod.PRORATED
    assert schedule.period(0) == (signed, at("UTC", 2027, 3, 15))


def test_billing_day_is_taken_in_the_contract_zone_at_shanghai_midnight() -> None:
    # 00:30 on Mar 1 in Shanghai is still Feb 28 in UTC: the billing day has passed, a month is left.
    signed = at("Asia/Shanghai", 2027, 3, 1, 0, 30)
    assert signed == datetime(2027, 2, 28, 16, 30, tzinfo=UTC)
    schedule = Schedule(MONTHLY, signed, "Asia/Shanghai", billing_day=1)

    assert schedule.first_period is FirstPeriod.PRORATED
    assert schedule.period(0) == (signed, datetime(2027, 3, 31, 16, 0, tzinfo=UTC))
    share = schedule.first_share()
    assert share is not None
    assert share.full == 31 * 86_400_000_000  # Mar 1 - Apr 1
    assert share.full - share.charged == 30 * 60_000_000


def test_a_day_is_a_day_across_a_dst_change() -> None:
    # Berlin springs forward on Mar 28 2027: Mar 20 to Apr 1 is 12 calendar days but 287 elapsed hours.
    signed = at("Europe/Berlin", 2027, 3, 20)
    schedule = Schedule(MONTHLY, signed, "Europe/Berlin", billing_day=1)

    start, end = schedule.period(0)
    assert end - start == timedelta(days=12, hours=-1)
    assert schedule.first_share() == Share(charged=12 * 86_400_000_000, full=31 * 86_400_000_000)
    # Later periods start at local midnight on both sides of the change, and of the one in October.
    assert schedule.period(1) == (at("Europe/Berlin", 2027, 4, 1), at("Europe/Berlin", 2027, 5, 1))
    assert schedule.period(7)[0].astimezone(ZoneInfo("Europe/Berlin")).hour == 0  # Oct 1 -> Nov 1


def test_a_zone_that_springs_forward_at_midnight_keeps_the_billing_day() -> None:
    # Chile moved its clocks from 00:00 to 01:00 on Sep 8 2024: that midnight did not exist.
    schedule = Schedule(MONTHLY, at("America/Santiago", 2024, 8, 20, 12), "America/Santiago", billing_day=8)
    local = [schedule.period(n)[0].astimezone(ZoneInfo("America/Santiago")) for n in (1, 2)]
    assert [(t.month, t.day) for t in local] == [(9, 8), (10, 8)]
    assert local[1].hour == 0


def test_a_yearly_product_is_prorated_up_to_the_next_billing_day_then_runs_a_year() -> None:
    signed = at("UTC", 2027, 3, 15)
    schedule = Schedule(YEARLY, signed, "UTC", billing_day=1)

    assert schedule.period(0) == (signed, at("UTC", 2027, 4, 1))
    assert schedule.period(1) == (at("UTC", 2027, 4, 1), at("UTC", 2028, 4, 1))
    # 17 days of the year Apr 1 2026 - Apr 1 2027.
    assert schedule.first_share() == Share(charged=17 * 86_400_000_000, full=365 * 86_400_000_000)


def test_without_a_billing_day_periods_follow_the_anniversary() -> None:
    signed = at("UTC", 2027, 1, 31, 9)
    schedule = Schedule(MONTHLY, signed)
    assert schedule.first_share() is None
    assert [schedule.period(n) for n in range(3)] == [MONTHLY.period(signed, n) for n in range(3)]


@pytest.mark.parametrize("day", [0, 29, 31, -1])
def test_days_outside_1_to_28_are_refused_naming_the_allowed_range(day: int) -> None:
    with pytest.raises(BillingDayRefused) as refused:
        Schedule(MONTHLY, at("UTC", 2027, 1, 1), billing_day=day)
    assert refused.value.code == INVALID_BILLING_DAY
    assert "from 1 to 28" in refused.value.message


@pytest.mark.parametrize("cycle", ["P30D", "P1W", "PT1M"])
def test_a_billing_day_needs_a_cycle_of_whole_months(cycle: str) -> None:
    with pytest.raises(BillingDayRefused) as refused:
        Schedule(BillingCycle.parse(cycle), at("UTC", 2027, 1, 1), billing_day=1)
    assert refused.value.code == BILLING_DAY_NEEDS_MONTHLY_CYCLE
    assert "P1M" in refused.value.message


@pytest.mark.parametrize(
    ("amount", "charged", "full", "expected"),
    [
        (1000, 1, 2, 500),
        (1, 1, 2, 1),  # half a minor unit rounds up
        (3, 1, 2, 2),  # 1.5 -> 2
        (5, 1, 2, 3),  # 2.5 -> 3, not to even
        (1000, 1, 3, 333),  # 333.33 -> 333
        (2000, 1, 3, 667),  # 666.67 -> 667
        (4500, 1, 31, 145),  # 145.16 -> 145
        (4500, 30, 31, 4355),  # 4354.84 -> 4355
        (1499, 0, 31, 0),
        (1499, 31, 31, 1499),
        (10**15 + 1, 1, 2, 5 * 10**14 + 1),  # exact at any size: no float in between
    ],
)
def test_proration_rounds_half_up_to_a_whole_minor_unit(
    amount: int, charged: int, full: int, expected: int
) -> None:
    assert prorate_minor(amount, charged, full) == expected


@pytest.mark.parametrize(("charged", "full"), [(2, 1), (-1, 2), (1, 0)])
def test_a_share_outside_0_to_1_is_refused(charged: int, full: int) -> None:
    with pytest.raises(ValueError, match="share"):
        prorate_minor(100, charged, full)


def test_the_first_plan_prorates_the_group_once_and_keeps_the_unit_price() -> None:
    share = Share(charged=1, full=31)
    plan = price_first_plan(("cam-1", "cam-2", "cam-3"), 1500, share)
    assert (plan.unit_price_minor, plan.gross_minor, plan.amount_minor) == (1500, 145, 145)
    # Prorating each device and adding up would give 3 x 48 = 144: the group is rounded once.
    discounted = plan.discounted(50)
    assert (discounted.gross_minor, discounted.discount_minor, discounted.amount_minor) == (145, 50, 95)
    assert plan.discounted(1000).amount_minor == 0
    assert price_first_plan(("cam-1",), 1500, None).amount_minor == 1500


@pytest.mark.parametrize(
    ("money", "text", "exponent"),
    [
        (Money(amount_minor=4355, currency="CNY"), "43.55 CNY", 2),
        (Money(amount_minor=4355, currency="JPY"), "4355 JPY", 0),
        (Money(amount_minor=4355, currency="KWD"), "4.355 KWD", 3),
        (Money(amount_minor=5, currency="USD"), "0.05 USD", 2),
    ],
)
def test_money_is_shown_on_its_currency_exponent(money: Money, text: str, exponent: int) -> None:
    assert minor_unit_exponent(money.currency) == exponent
    assert str(money) == text
