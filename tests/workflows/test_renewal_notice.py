"""The upcoming-renewal notice on the time-skipping server: one `subscription.renewal_upcoming` per period,
the product's notice before the charge on the contract's wall clock, quoting what the charge then takes
(live price, voucher applied); a cancel inside the notice window means no charge."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory, transaction
from models.cycle import BillingCycle
from models.enums import SubscriptionStatus
from models.messages import CancelRequest
from tests.fixtures.sandbox import SandboxGateway
from tests.support.factories import make_devices, make_product, set_price
from tests.support.outbox import subscription_events
from tests.support.records import ledger_periods, records, wait_for_records
from tests.support.temporal import notices_scheduled_at, settled, start_subscription
from tests.vouchers.support import make_voucher
from vouchers.claims import claim_voucher
from workflows.subscription import SubscriptionWorkflow

ZONE = "Europe/Berlin"
MONTHLY = BillingCycle.parse("P1M")
UPCOMING = "subscription.renewal_upcoming"
DAY = timedelta(days=1)


def wall_clock_days_before(due: datetime, days: int, zone: str) -> datetime:
    """What the notice should be, worked out here on the zone's wall clock, independently of the engine."""
    local = due.astimezone(ZoneInfo(zone)).replace(tzinfo=None) - timedelta(days=days)
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def anchor_before_a_clock_change(after: datetime, zone: str) -> datetime:
    """Noon, local, on a day whose monthly renewal falls a day or two after a daylight-saving change, so the
    three days' notice before it straddles the change (a notice counted in UTC would be an hour off)."""
    tz = ZoneInfo(zone)
    day = (after + timedelta(days=2)).astimezone(tz).date()
    for _ in range(2 * 366):
        day += timedelta(days=1)
        if (
            datetime.combine(day - timedelta(days=1), time(12), tz).utcoffset()
            == datetime.combine(day, time(12), tz).utcoffset()
        ):
            continue
        for due_day in (day, day + timedelta(days=1)):
            due = datetime.combine(due_day, time(12), tz)
            anchor = due - relativedelta(months=1)
            if MONTHLY.boundary(anchor, 1, zone) == due.astimezone(UTC) and anchor > after:
                return anchor.astimezone(UTC)
    raise AssertionError(f"{zone} changes its clocks too seldom for this test")


async def test_monthly_notice_falls_on_the_contract_wall_clock_and_quotes_the_charge(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    anchor = anchor_before_a_clock_change(await env.get_current_time(), ZONE)
    await env.sleep(anchor - await env.get_current_time())
    now = await env.get_current_time()
    product_id = make_product(sessions, price=1000, cycle="P1M", renewal_notice="P3D")
    # Half off the first two periods (0 and 1): the first notice quotes the discount, the second does not.
    voucher = make_voucher(
        sessions, now=now, value=50, duration_periods=2, product_ids=[product_id], valid_until=now + 90 * DAY
    )
    with transaction(sessions) as session:
        claim = claim_voucher(session, voucher_id=voucher.id, user_id="una", now=now).claim.id
    devices = make_devices(sessions, owner="una", count=2)
    contract_id, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="una",
        product_id=product_id,
        device_ids=devices,
        timezone=ZONE,
        voucher_claim_id=claim,
    )
    first = await settled(env, handle)
    assert first.period_end is not None
    due = first.period_end
    expected = wall_clock_days_before(due, 3, ZONE)
    assert expected != due - timedelta(days=3), "the window should straddle a clock change"

    await env.sleep(expected - await env.get_current_time() - timedelta(minutes=1))
    assert subscription_events(sessions, contract_id).of(UPCOMING) == []
    # The price changes inside the notice window's run-up: the notice quotes the live price.
    set_price(sessions, product_id, 1200)
    await env.sleep(timedelta(minutes=2))
    await wait_for_records(sessions, contract_id, lambda r: "renewal_upcoming" in r.event_kinds)
    [notice] = subscription_events(sessions, contract_id).of(UPCOMING)
    assert notice.data["amount"] == {"amount_minor": 1200, "currency": "CNY"}  # 2 x 1200, half off
    assert datetime.fromisoformat(str(notice.data["due_at"])) == due
    assert sorted(notice.data["device_ids"]) == sorted(devices)

    await env.sleep(due - await env.get_current_time() + timedelta(minutes=1))
    second = await settled(env, handle)
    assert second.period_end is not None
    await env.sleep(second.period_end - await env.get_current_time() - timedelta(hours=1))
    await wait_for_records(sessions, contract_id, lambda r: r.event_kinds.count("renewal_upcoming") == 2)

    saved = records(sessions, contract_id)
    notices = subscription_events(sessions, contract_id).of(UPCOMING)
    assert [(n.data["period"]["index"], n.data["amount"]["amount_minor"]) for n in notices] == [
        (1, 1200),
        (2, 2400),
    ]
    # The charge took what the notice said.
    assert [p.amount_minor for p in saved.plans[1:]] == [1200]
    scheduled = await notices_scheduled_at(handle)
    second_expected = wall_clock_days_before(second.period_end, 3, ZONE)
    assert len(scheduled) == 2
    for at, want in zip(scheduled, (expected, second_expected), strict=True):
        assert abs(at - want) < timedelta(seconds=2), (at, want)


async def test_cancel_in_the_notice_window_charges_nothing(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, price=1000, cycle="P1M", renewal_notice="P3D")
    devices = make_devices(sessions, owner="vic", count=1)
    contract_id, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="vic",
        product_id=product_id,
        device_ids=devices,
        timezone="Asia/Shanghai",
    )
    first = await settled(env, handle)
    assert first.period_end is not None
    notice_at = wall_clock_days_before(first.period_end, 3, "Asia/Shanghai")
    await env.sleep(notice_at - await env.get_current_time() + timedelta(hours=1))
    await wait_for_records(sessions, contract_id, lambda r: "renewal_upcoming" in r.event_kinds)

    await handle.signal(SubscriptionWorkflow.cancel, CancelRequest())
    final = await handle.result()

    assert final.status is SubscriptionStatus.CANCELED
    assert final.paid_through == first.period_end
    saved = records(sessions, contract_id)
    assert [p.period for p in saved.plans] == [0]
    assert ledger_periods(sandbox_gateway.ledger(contract_id)) == [(0, "succeeded")]
    outbox = subscription_events(sessions, contract_id)
    assert "subscription.renewed" not in outbox.types
    assert outbox.types.index(UPCOMING) < outbox.types.index("subscription.canceling")
    assert outbox.types[-1] in ("subscription.canceled", "entitlement.revoked")


async def test_cancel_before_the_notice_sends_none(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, price=1000, cycle="P1M", renewal_notice="P3D")
    devices = make_devices(sessions, owner="wyn", count=1)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="wyn", product_id=product_id, device_ids=devices
    )
    await settled(env, handle)
    await env.sleep(timedelta(days=5))
    await handle.signal(SubscriptionWorkflow.cancel, CancelRequest())

    final = await handle.result()

    assert final.status is SubscriptionStatus.CANCELED
    assert subscription_events(sessions, contract_id).of(UPCOMING) == []
    assert await notices_scheduled_at(handle) == []
