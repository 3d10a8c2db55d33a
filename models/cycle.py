"""Billing cycles: an ISO-8601 duration (P1M, P1Y, P30D, P1W, PT1M, PT1S) and the period arithmetic.

Calendar cycles are computed in the contract's time zone and always from the anchor (never chained), so
a monthly cycle anchored on Jan 31 gives Feb 28/29, Mar 31, Apr 30 ... Pure: safe inside workflows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ConfigDict

_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


class CycleUnit(StrEnum):
    MONTHS = "months"  # calendar months, in the contract's zone
    DAYS = "days"  # calendar days, in the contract's zone (a day across a DST change is 23 or 25 h)
    SECONDS = "seconds"  # fixed elapsed time, for demos and benchmarks


class InvalidCycle(ValueError):
    pass


class BillingCycle(BaseModel):
    model_config = ConfigDict(frozen=True)

    unit: CycleUnit
    count: int

    @classmethod
    def parse(cls, text: str) -> BillingCycle:
        """One unit family per cycle: `P1M` or `P1Y2M` (months), `P30D`/`P2W` (days), `PT1M`/`PT30S`."""
        match = _DURATION.match(text)
        if match is None or text in ("P", "PT") or text.endswith("T"):
            raise InvalidCycle(f"{text!r} is not an ISO-8601 duration such as P1M, P30D or PT1M")
        parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
        months = parts.get("years", 0) * 12 + parts.get("months", 0)
        days = parts.get("weeks", 0) * 7 + parts.get("days", 0)
        seconds = parts.get("hours", 0) * 3600 + parts.get("minutes", 0) * 60 + parts.get("seconds", 0)
        families = [n for n in (months, days, seconds) if n]
        if len(families) != 1:
            raise InvalidCycle(f"{text!r} must be a positive duration in exactly one of months, days or time")
        if months:
            return cls(unit=CycleUnit.MONTHS, count=months)
        if days:
            return cls(unit=CycleUnit.DAYS, count=days)
        return cls(unit=CycleUnit.SECONDS, count=seconds)

    def to_iso(self) -> str:
        if self.unit is CycleUnit.MONTHS:
            return f"P{self.count}M"
        if self.unit is CycleUnit.DAYS:
            return f"P{self.count}D"
        return f"PT{self.count}S"

    def boundary(self, anchor: datetime, index: int, tz: str = "UTC") -> datetime:
        """Start of period `index` (period 0 starts at the anchor), as an aware UTC datetime."""
        if anchor.tzinfo is None:
            raise ValueError("anchor must be timezone-aware")
        if self.unit is CycleUnit.SECONDS:
            return (anchor + timedelta(seconds=self.count * index)).astimezone(UTC)
        return self.wall_boundary(wall_clock(anchor, tz), index, tz)

    def wall_boundary(self, wall: datetime, index: int, tz: str) -> datetime:
        """Start of period `index` from an anchor given as a wall-clock time (naive, in `tz`), as an aware
        UTC datetime. A calendar cycle only: an aligned schedule anchors on a local midnight that may not
        exist as an instant in every month (a zone that springs forward at 00:00)."""
        if wall.tzinfo is not None:
            raise ValueError("wall must be a naive wall-clock time")
        if self.unit is CycleUnit.SECONDS:
            raise ValueError("a cycle of elapsed time has no wall-clock boundaries")
        if self.unit is CycleUnit.MONTHS:
            wall = wall + relativedelta(months=self.count * index)
        else:
            wall = wall + timedelta(days=self.count * index)
        # Wall-clock arithmetic, then back to an instant: keeps 00:30 local at 00:30 across DST.
        return wall.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)

    def period(self, anchor: datetime, index: int, tz: str = "UTC") -> tuple[datetime, datetime]:
        return self.boundary(anchor, index, tz), self.boundary(anchor, index + 1, tz)


def wall_clock(instant: datetime, tz: str) -> datetime:
    """The naive wall-clock time an aware instant shows in `tz`."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return dt.astimezone(UTC)
