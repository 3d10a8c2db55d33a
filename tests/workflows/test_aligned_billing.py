"""Calendar-aligned billing on the time-skipping server: a prorated first period up to the billing day,
then whole periods from that day to that day, in the contract's zone, across DST changes; a first period
shorter than a day folds into the next; vouchers apply to the prorated amount.

Each test skips the server's clock to a wall-clock time in the next year that has it, so the dates hold
whenever the suite runs. Amounts are worked out by hand from wall-clock lengths (a day is a day, whatever
DST does to it) and chosen away from a half minor unit, so the seconds between skipping and signing cannot
change them."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory, transaction
from models.enums import PlanStatus
from models.messages import SubscriptionState
from tests.fixtures.sandbox import SandboxGateway
from tests.support.factories import make_devices, make_product
from tests.support.outbox import subscription_events
from tests.support.records import records, wait_for_records
from tests.support.temporal import SubscriptionHandle, notices_scheduled_at, settled, start_subscription
from tests.vouchers.support import make_voucher
from vouchers.claims import claim_voucher


def at(tz: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def local(instant: datetime, tz: str) -> tuple[int, int, int, int]:
    shown = instant.astimezone(ZoneInfo(tz))
    return shown.month, shown.day, shown.hour, shown.minute


async def skip_to(env: WorkflowEnvironment, tz: str, month: int, day: int, hour: int, minute: int) -> int:
    """Skip the clock to the next such wall-clock time in `tz` at least a day away; its year."""
    now = await env.get_current_time()
    year = now.astimezone(ZoneInfo(tz)).year
    while at(tz, year, month, day, hour, minute) < now + timedelta(days=1):
        year += 1
    await env.sleep(at(tz, year, month, day, hour, minute) - now)
    return year


async def renewed(env: WorkflowEnvironment, handle: SubscriptionHandle, due: datetime) -> None:
    """Skip past `due` and wait for the renewal charged then."""
    await env.sleep(due - await env.get_current_time() + timedelta(minutes=1))
    await settled(env, handle)


def half_up(amount: int, share: Fraction) -> int:
    return math.floor(amount * share + Fraction(1, 2))


@dataclass(frozen=True)
class Signed:
    contract_id: str
    handle: SubscriptionHandle
    devices: tuple[str, ...]
    year: int  # of the signup, in its zone
    anchor: datetime  # when it was signed, as the contract recorded it
    first: SubscriptionState  # once the first charge was answered


async def sign_at(
    env: WorkflowEnvironment,
    sessions: SessionFactory,
    task_queue: str,
    when: tuple[str, int, int, int, int],
    *,
    product_id: uuid.UUID,
    user_id: str,
    devices: int = 1,
    **signup: Any,
) -> Signed:
    """Skip to the wall-clock time `when` (zone, month, day, hour, minute) and sign up there."""
    tz, *wall = when
    device_ids = make_devices(sessions, owner=user_id, count=devices)
    year = await skip_to(env, tz, *wall)
    contract_id, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id=user_id,
        product_id=product_id,
        device_ids=device_ids,
        timezone=tz,
        **signup,
    )
    first = await settled(env, handle)
    saved = records(sessions, contract_id)
    assert saved.contract is not None
    assert local(saved.contract.anchor_at, tz) == tuple(wall)
    return Signed(contract_id, handle, device_ids, year, saved.contract.anchor_at, first)


async def test_a_first_period_across_berlins_spring_change_is_prorated_by_calendar_days(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    tz = "Europe/Berlin"
    product_id = make_product(sessions, price=3100, cycle="P1M", billing_day=1)
    signed = await sign_at(
        env, sessions, task_queue, (tz, 3, 20, 10, 0), product_id=product_id, user_id="anna"
    )
    year, anchor = signed.year, signed.anchor

    # Mar 20 10:00 to Apr 1 00:00 is 11 days 14 hours of the 31-day March; the clocks skip an hour
    # in between, which the share does not see: 3100 x 278/744 = 1158.33.
    assert signed.first.period_end == at(tz, year, 4, 1)
    assert at(tz, year, 4, 1) - anchor < timedelta(days=11, hours=14)
    await renewed(env, signed.handle, at(tz, year, 4, 1))

    saved = records(sessions, signed.contract_id)
    assert [(p.period_start, p.period_end, p.gross_minor, p.amount_minor, p.status) for p in saved.plans] == [
        (anchor, at(tz, year, 4, 1), 1158, 1158, PlanStatus.PAID),
        (at(tz, year, 4, 1), at(tz, year, 5, 1), 3100, 3100, PlanStatus.PAID),
    ]
    assert local(saved.plans[1].period_start, tz) == (4, 1, 0, 0)
    assert saved.entitlements[signed.devices[0]].valid_until == at(tz, year, 5, 1)
    assert saved.contract is not None and saved.contract.billing_day == 1
    charged = [c["amount"]["amount_minor"] for c in sandbox_gateway.ledger(signed.contract_id)]
    assert charged == [1158, 3100]


async def test_a_signups_own_day_in_new_york_across_the_fall_change_with_a_voucher_on_the_share(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    tz = "America/New_York"
    product_id = make_product(
        sessions, price=1000, cycle="P1M", billing_day=1, signup_billing_day_allowed=True
    )
    now = datetime.now(UTC)
    # Usable for as long as the skipped clock needs: the signup lands up to a year from now.
    voucher = make_voucher(
        sessions,
        type="percent_off",
        value=25,
        product_ids=[product_id],
        valid_until=now + timedelta(days=800),
    )
    with transaction(sessions) as session:
        claim_id = claim_voucher(session, voucher_id=voucher.id, user_id="ben", now=now).claim.id
    signed = await sign_at(
        env,
        sessions,
        task_queue,
        (tz, 10, 25, 12, 0),
        product_id=product_id,
        user_id="ben",
        devices=2,
        billing_day=15,
        voucher_claim_id=claim_id,
    )
    year, anchor = signed.year, signed.anchor
    await renewed(env, signed.handle, at(tz, year, 11, 15))

    # Oct 25 12:00 to Nov 15 00:00 is 20.5 days of the 31 from Oct 15: 2000 x 492/744 = 1322.58 -> 1323;
    # the voucher takes 25 % of that (330, rounded down as every percentage is), not of 2000.
    saved = records(sessions, signed.contract_id)
    assert [
        (p.period_start, p.period_end, p.gross_minor, p.discount_minor, p.amount_minor) for p in saved.plans
    ] == [
        (anchor, at(tz, year, 11, 15), 1323, 330, 993),
        (at(tz, year, 11, 15), at(tz, year, 12, 15), 2000, 0, 2000),
    ]
    # The fall change adds an hour to the first period's wall-clock length; billing stays at midnight.
    assert saved.plans[0].period_end - anchor > timedelta(days=20, hours=12)
    assert local(saved.plans[1].period_start, tz) == (11, 15, 0, 0)
    assert local(saved.plans[1].period_end, tz) == (12, 15, 0, 0)
    assert saved.contract is not None and saved.contract.billing_day == 15


async def test_shanghai_bills_on_its_own_1st_when_utc_still_shows_the_day_before(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    tz = "Asia/Shanghai"
    product_id = make_product(sessions, price=3100, cycle="P1M", billing_day=1)
    signed = await sign_at(
        env, sessions, task_queue, (tz, 3, 1, 0, 30), product_id=product_id, user_id="chen"
    )
    year = signed.year

    # 00:30 on Mar 1 in Shanghai is Feb 28 (or 29) in UTC; the billing day that just began is not charged
    # again, and the period runs to Apr 1 00:00 Shanghai: 3100 x (31 days - 30 min) / 31 days = 3097.92.
    assert signed.anchor.month == 2
    assert signed.first.paid_through == at(tz, year, 4, 1) == datetime(year, 3, 31, 16, tzinfo=UTC)
    saved = records(sessions, signed.contract_id)
    assert [(p.period, p.amount_minor) for p in saved.plans] == [(0, 3098)]
    assert saved.entitlements[signed.devices[0]].valid_until == datetime(year, 3, 31, 16, tzinfo=UTC)


async def test_a_signup_on_the_31st_with_billing_day_1_folds_its_hours_into_february(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    tz = "UTC"
    product_id = make_product(sessions, price=3100, cycle="P1M", billing_day=1)
    signed = await sign_at(
        env, sessions, task_queue, (tz, 1, 31, 10, 0), product_id=product_id, user_id="dora"
    )
    year = signed.year
    # 14 hours to Feb 1 are less than the one-day minimum: free, and the first charge pays all of February.
    assert signed.first.paid_through == at(tz, year, 3, 1)
    await renewed(env, signed.handle, at(tz, year, 3, 1))
    await renewed(env, signed.handle, at(tz, year, 4, 1))

    saved = records(sessions, signed.contract_id)
    assert [(p.period_start, p.period_end, p.amount_minor) for p in saved.plans] == [
        (signed.anchor, at(tz, year, 3, 1), 3100),
        (at(tz, year, 3, 1), at(tz, year, 4, 1), 3100),
        (at(tz, year, 4, 1), at(tz, year, 5, 1), 3100),
    ]
    assert [c["amount"]["amount_minor"] for c in sandbox_gateway.ledger(signed.contract_id)] == [3100] * 3


async def test_a_yearly_product_prorates_up_to_its_billing_day_then_bills_once_a_year(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    tz = "UTC"
    product_id = make_product(sessions, price=36600, cycle="P1Y", billing_day=1)
    signed = await sign_at(
        env, sessions, task_queue, (tz, 5, 20, 12, 0), product_id=product_id, user_id="emil"
    )
    year = signed.year
    await renewed(env, signed.handle, at(tz, year, 6, 1))
    await renewed(env, signed.handle, at(tz, year + 1, 6, 1))

    # May 20 12:00 to Jun 1 is 276 hours of the year that ends on Jun 1 (365 days, or 366 over a Feb 29).
    days = (date(year, 6, 1) - date(year - 1, 6, 1)).days
    prorated = half_up(36600, Fraction(276, days * 24))
    assert prorated == {365: 1153, 366: 1150}[days]
    saved = records(sessions, signed.contract_id)
    assert [(p.period_start, p.period_end, p.amount_minor) for p in saved.plans] == [
        (signed.anchor, at(tz, year, 6, 1), prorated),
        (at(tz, year, 6, 1), at(tz, year + 1, 6, 1), 36600),
        (at(tz, year + 1, 6, 1), at(tz, year + 2, 6, 1), 36600),
    ]


async def test_the_renewal_notice_falls_three_local_days_before_shanghais_billing_day(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    tz, upcoming = "Asia/Shanghai", "subscription.renewal_upcoming"
    product_id = make_product(sessions, price=3000, cycle="P1M", billing_day=1, renewal_notice="P3D")
    signed = await sign_at(
        env, sessions, task_queue, (tz, 5, 10, 12, 0), product_id=product_id, user_id="lin"
    )
    due = at(tz, signed.year, 6, 1)
    assert signed.first.period_end == due
    # Shanghai's midnight on May 29 is 16:00 UTC on the 28th: the notice is counted on the local calendar.
    notice_at = at(tz, signed.year, 5, 29)

    await env.sleep(notice_at - await env.get_current_time() - timedelta(minutes=1))
    assert subscription_events(sessions, signed.contract_id).of(upcoming) == []
    await env.sleep(timedelta(minutes=2))
    await wait_for_records(sessions, signed.contract_id, lambda r: "renewal_upcoming" in r.event_kinds)
    [notice] = subscription_events(sessions, signed.contract_id).of(upcoming)
    # The prorated first period is behind; the notice quotes a whole period from the 1st.
    assert notice.data["amount"] == {"amount_minor": 3000, "currency": "CNY"}
    assert datetime.fromisoformat(str(notice.data["due_at"])) == due
    [scheduled] = await notices_scheduled_at(signed.handle)
    assert abs(scheduled - notice_at) < timedelta(seconds=2), scheduled

    await renewed(env, signed.handle, due)
    charged = [c["amount"]["amount_minor"] for c in sandbox_gateway.ledger(signed.contract_id)]
    assert charged[1:] == [3000]
