"""The upcoming-renewal notice (DESIGN.md section 1): how long before a renewal charge the user is told,
the default by cycle, and the instant the notice is due. Pure: the catalog API checks a product with it,
the settling activity computes when the next notice falls.

A notice is an ISO-8601 duration in one unit family, parsed as a cycle is, and subtracted in the contract's
time zone as a cycle is added: `P3D` before a renewal at 00:30 in Asia/Shanghai falls at 00:30 there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.cycle import BillingCycle, CycleUnit, InvalidCycle

DEFAULT_NOTICE = "P3D"
_MONTH = BillingCycle(unit=CycleUnit.MONTHS, count=1)
# Month starts across a leap year and a common one: every month length a calendar cycle can meet.
_STARTS = tuple(datetime(year, month, 1, tzinfo=UTC) for year in (2023, 2024) for month in range(1, 13))
# A calendar day across a daylight-saving change is an hour short or long.
_DST = timedelta(hours=1)


class InvalidNotice(ValueError):
    pass


def parse_notice(text: str) -> BillingCycle:
    try:
        return BillingCycle.parse(text)
    except InvalidCycle as error:
        raise InvalidNotice(str(error).replace("P1M, P30D or PT1M", "P3D, PT12H or P1W")) from None


def _lengths(duration: BillingCycle) -> list[timedelta]:
    return [duration.boundary(start, 1) - start for start in _STARTS]


def _shortest(duration: BillingCycle) -> timedelta:
    return min(_lengths(duration)) - (_DST if duration.unit is not CycleUnit.SECONDS else timedelta())


def _longest(duration: BillingCycle) -> timedelta:
    return max(_lengths(duration)) + (_DST if duration.unit is not CycleUnit.SECONDS else timedelta())


def default_notice(cycle: BillingCycle) -> str | None:
    """P3D for cycles of a month or more (their shortest period is no shorter than the shortest month);
    none for shorter cycles, where a notice days ahead would fall before the period even began."""
    return DEFAULT_NOTICE if min(_lengths(cycle)) >= min(_lengths(_MONTH)) else None


def notice_fits(notice: BillingCycle, cycle: BillingCycle) -> bool:
    """Whether the notice is shorter than every period of the cycle, in any month and across DST: a notice
    as long as a period would fall before the period it announces has begun."""
    return _longest(notice) < _shortest(cycle)


def notice_at(due: datetime, notice: BillingCycle, tz: str) -> datetime:
    """When the notice for a renewal due at `due` falls: the notice's length before it, on the wall clock
    of the contract's time zone."""
    return notice.boundary(due, -1, tz)
