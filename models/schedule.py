"""The periods of one contract: on its signup anniversary, or aligned to a billing day of the month with
a prorated first period that leads up to it (docs/billing.md).

Pure and deterministic: the settling activity computes every period from the contract's signing time, zone,
cycle and billing day, never from the period before, so a retried or replayed period lands on the same
instants. Safe inside workflows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from dateutil.relativedelta import relativedelta

from models.cycle import BillingCycle, CycleUnit, utc, wall_clock

FIRST_BILLING_DAY = 1
# Every month has a 28th, and periodic-deduction agreements refuse deductions on days 29 to 31.
LAST_BILLING_DAY = 28
# A first period shorter than this is not charged on its own: it is free and folds into the next period.
MIN_FIRST_PERIOD = timedelta(days=1)

INVALID_BILLING_DAY = "invalid_billing_day"
BILLING_DAY_NEEDS_MONTHLY_CYCLE = "billing_day_needs_monthly_cycle"
BILLING_DAY_NOT_ALLOWED = "billing_day_not_allowed"


class BillingDayRefused(ValueError):
    """A billing day that cannot be used, with a stable code; the message says what is allowed."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def billing_day_problem(day: int) -> str | None:
    """Why `day` is not a billing day, saying which days are (None: it is one)."""
    if FIRST_BILLING_DAY <= day <= LAST_BILLING_DAY:
        return None
    return (
        f"billing_day must be a day of the month from {FIRST_BILLING_DAY} to {LAST_BILLING_DAY}, not {day}: "
        "days 29 to 31 do not occur in every month and periodic-deduction agreements refuse them"
    )


def check_billing_day(day: int, cycle: BillingCycle) -> None:
    """A billing day is a day from 1 to 28, on a cycle of whole months (P1M, P3M, P1Y)."""
    problem = billing_day_problem(day)
    if problem is not None:
        raise BillingDayRefused(problem, code=INVALID_BILLING_DAY)
    if cycle.unit is not CycleUnit.MONTHS:
        raise BillingDayRefused(
            f"a billing day needs a cycle of whole months (P1M, P3M, P1Y), not {cycle.to_iso()}",
            code=BILLING_DAY_NEEDS_MONTHLY_CYCLE,
        )


class FirstPeriod(StrEnum):
    FULL = "full"  # signed on the billing day at midnight, or not aligned: a full first period
    PRORATED = "prorated"  # from signup to the next billing day, charged in proportion
    FOLDED = "folded"  # shorter than MIN_FIRST_PERIOD: free, joined to the full period after it


@dataclass(frozen=True)
class Share:
    """The part of a full period's price the first period costs: `charged / full`, both in wall-clock
    microseconds of the contract's zone (a day is a day, whether DST makes it 23 or 25 hours)."""

    charged: int
    full: int


@dataclass(frozen=True)
class Schedule:
    cycle: BillingCycle
    signed_at: datetime  # the contract's anchor: when signing was asked for, aware
    timezone: str = "UTC"
    billing_day: int | None = None

    def __post_init__(self) -> None:
        if self.billing_day is not None:
            check_billing_day(self.billing_day, self.cycle)

    @property
    def _signed_wall(self) -> datetime:
        return wall_clock(self.signed_at, self.timezone)

    @property
    def _aligned_wall(self) -> datetime:
        """The first billing day's midnight at or after signing, as wall-clock time in the contract's zone."""
        assert self.billing_day is not None
        signed = self._signed_wall
        midnight = signed.replace(day=self.billing_day, hour=0, minute=0, second=0, microsecond=0, fold=0)
        return midnight if midnight >= signed.replace(fold=0) else midnight + relativedelta(months=1)

    @property
    def first_period(self) -> FirstPeriod:
        if self.billing_day is None:
            return FirstPeriod.FULL
        lead = self._aligned_wall - self._signed_wall.replace(fold=0)
        if lead == timedelta(0):
            return FirstPeriod.FULL
        return FirstPeriod.FOLDED if lead < MIN_FIRST_PERIOD else FirstPeriod.PRORATED

    def period(self, index: int) -> tuple[datetime, datetime]:
        """Start and end of period `index` (0 is the first, from signing), as aware UTC datetimes."""
        if index < 0:
            raise ValueError("periods are numbered from 0")
        if self.billing_day is None:
            return self.cycle.period(self.signed_at, index, self.timezone)
        # A prorated first period is one period of its own before the aligned ones; a full or folded one
        # is the first aligned period, started early.
        shift = 1 if self.first_period is FirstPeriod.PRORATED else 0
        aligned, tz = self._aligned_wall, self.timezone
        end = self.cycle.wall_boundary(aligned, index + 1 - shift, tz)
        if index == 0:
            return utc(self.signed_at), end
        return self.cycle.wall_boundary(aligned, index - shift, tz), end

    def first_share(self) -> Share | None:
        """The share of a full period's price that period 0 costs; None when it costs a full period."""
        if self.first_period is not FirstPeriod.PRORATED:
            return None
        aligned = self._aligned_wall
        whole = aligned - (aligned - relativedelta(months=self.cycle.count))
        lead = aligned - self._signed_wall.replace(fold=0)
        return Share(charged=_microseconds(lead), full=_microseconds(whole))


def _microseconds(span: timedelta) -> int:
    return span // timedelta(microseconds=1)
