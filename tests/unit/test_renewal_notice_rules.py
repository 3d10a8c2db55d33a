"""The renewal notice's pure rules: its default by cycle, that it is shorter than every period, and when it
falls on the contract's wall clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.cycle import BillingCycle
from models.notice import InvalidNotice, default_notice, notice_at, notice_fits, parse_notice


@pytest.mark.parametrize(
    ("cycle", "default"),
    [
        ("P1M", "P3D"),
        ("P1Y", "P3D"),
        ("P30D", "P3D"),
        ("P4W", "P3D"),
        ("P27D", None),
        ("P1W", None),
        ("PT1S", None),
        ("PT1M", None),
    ],
)
def test_default_is_three_days_for_a_month_or_more(cycle: str, default: str | None) -> None:
    assert default_notice(BillingCycle.parse(cycle)) == default


@pytest.mark.parametrize(
    ("notice", "cycle", "fits"),
    [
        ("P3D", "P1M", True),
        ("P27D", "P1M", True),  # shorter than February, even across a clock change
        ("P28D", "P1M", False),  # as long as a February
        ("P1M", "P1M", False),
        ("P1M", "P1Y", True),
        ("PT23H", "P1D", False),  # a day across a clock change lasts 23 h
        ("PT1S", "PT2S", True),
        ("PT2S", "PT2S", False),
        ("P1D", "PT12H", False),
    ],
)
def test_notice_must_be_shorter_than_every_period(notice: str, cycle: str, fits: bool) -> None:
    assert notice_fits(parse_notice(notice), BillingCycle.parse(cycle)) is fits


def test_notice_keeps_the_wall_clock_across_a_clock_change() -> None:
    # Due 02:30 CEST on 30 March 2026 in Berlin, the day after clocks went forward: three days before is
    # 02:30 CET, 71 elapsed hours earlier.
    due = datetime(2026, 3, 30, 0, 30, tzinfo=UTC)
    assert notice_at(due, parse_notice("P3D"), "Europe/Berlin") == datetime(2026, 3, 27, 1, 30, tzinfo=UTC)
    assert notice_at(due, parse_notice("P3D"), "UTC") == datetime(2026, 3, 27, 0, 30, tzinfo=UTC)
    assert notice_at(due, parse_notice("PT90S"), "Europe/Berlin") == datetime(
        2026, 3, 30, 0, 28, 30, tzinfo=UTC
    )


@pytest.mark.parametrize("text", ["3 days", "P0D", "P1DT2H", "", "P"])
def test_a_notice_that_is_not_one_duration_is_refused(text: str) -> None:
    with pytest.raises(InvalidNotice):
        parse_notice(text)
