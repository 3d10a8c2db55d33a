"""Every lifecycle path writes its events to the outbox, with the change, numbered 1..n without a gap
(`subscription_events` asserts the numbering on every read)."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory
from models.enums import CancelMode, SubscriptionStatus
from models.messages import AgreementReplacement, CancelRequest, DeviceChange
from tests.fixtures.sandbox import SandboxGateway
from tests.support.factories import HOUR, make_devices, make_product
from tests.support.outbox import subscription_events, voucher_event_types
from tests.support.temporal import settled, start_subscription, wait_for_state
from tests.vouchers.support import make_voucher
from tests.workflows.test_vouchers_on_subscriptions import claim_for
from workflows.subscription import SubscriptionWorkflow

OPENED = "entitlement.opened"
REVOKED = "entitlement.revoked"


def at(value: object) -> datetime:
    assert isinstance(value, str)
    return datetime.fromisoformat(value)


async def test_signup_and_renewal_report_activation_renewal_and_entitlements(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, price=700, cycle="P30D")
    devices = make_devices(sessions, owner="ann", count=2)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="ann", product_id=product_id, device_ids=devices
    )
    await settled(env, handle)
    await env.sleep(timedelta(days=30, minutes=1))
    second = await settled(env, handle)

    outbox = subscription_events(sessions, contract_id)
    assert outbox.types == ["subscription.activated", OPENED, OPENED, "subscription.renewed", OPENED, OPENED]
    renewed = outbox.of("subscription.renewed")[0]
    assert renewed.user_id == "ann"
    assert renewed.data["period"]["index"] == 1
    assert renewed.data["amount"] == {"amount_minor": 1400, "currency": "CNY"}
    assert at(renewed.data["paid_through"]) == second.paid_through
    assert {e.data["device_id"] for e in outbox.of(OPENED)[2:]} == set(devices)
    assert all(at(e.data["paid_through"]) == second.paid_through for e in outbox.of(OPENED)[2:])


async def test_soft_declines_then_payment_report_each_failure_with_its_retry_time(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, cycle="P30D", delays=(1 * HOUR, 2 * HOUR), max_attempts=4)
    devices = make_devices(sessions, owner="bea", count=1)
    contract_id, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="bea",
        product_id=product_id,
        device_ids=devices,
        token="sandbox_flaky_2",
    )
    await env.sleep(timedelta(hours=4))
    await settled(env, handle)

    outbox = subscription_events(sessions, contract_id)
    assert outbox.types == [
        "subscription.payment_failed",
        "subscription.payment_failed",
        "subscription.activated",
        OPENED,
    ]
    first, second = outbox.of("subscription.payment_failed")
    assert (first.data["attempt"], second.data["attempt"]) == (1, 2)
    assert at(first.data["next_retry_at"]) - first.created_at < timedelta(hours=1, seconds=5)
    assert at(second.data["next_retry_at"]) > at(first.data["next_retry_at"])


async def test_dunning_exhausted_reports_a_last_failure_without_retry_then_termination(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, cycle="P30D", delays=(1 * HOUR,), max_attempts=2)
    devices = make_devices(sessions, owner="cal", count=2)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="cal", product_id=product_id, device_ids=devices
    )
    await settled(env, handle)
    await handle.signal(
        SubscriptionWorkflow.replace_agreement, AgreementReplacement(agreement_token="sandbox_soft_decline")
    )
    await env.sleep(timedelta(days=30, minutes=1))
    await handle.result()

    outbox = subscription_events(sessions, contract_id)
    assert outbox.types == [
        "subscription.activated",
        OPENED,
        OPENED,
        "subscription.payment_failed",
        "subscription.payment_failed",
        "subscription.terminated",
        REVOKED,
        REVOKED,
    ]
    assert [e.data["next_retry_at"] is None for e in outbox.of("subscription.payment_failed")] == [
        False,
        True,
    ]
    terminated = outbox.of("subscription.terminated")[0].data
    assert (terminated["status"], terminated["reason"]) == ("terminated", "dunning_exhausted")


async def test_hard_decline_at_signup_reports_failure_and_termination(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions)
    voucher = make_voucher(sessions, product_ids=[product_id])
    claim_id = claim_for(sessions, voucher.id, "dot")
    devices = make_devices(sessions, owner="dot", count=1)
    contract_id, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="dot",
        product_id=product_id,
        device_ids=devices,
        token="sandbox_hard_decline",
        voucher_claim_id=claim_id,
    )
    await handle.result()

    outbox = subscription_events(sessions, contract_id)
    assert outbox.types == ["subscription.payment_failed", "subscription.terminated"]
    assert outbox.of("subscription.payment_failed")[0].data["next_retry_at"] is None
    terminated = outbox.of("subscription.terminated")[0].data
    assert (terminated["status"], terminated["reason"]) == ("failed", "hard_decline")
    assert voucher_event_types(sessions, voucher.id) == ["voucher.claimed", "voucher.released"]


async def test_voucher_claimed_then_redeemed_by_the_first_charge(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, cycle="P30D")
    voucher = make_voucher(sessions, type="percent_off", value=25, product_ids=[product_id])
    claim_id = claim_for(sessions, voucher.id, "eve")
    devices = make_devices(sessions, owner="eve", count=1)
    contract_id, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="eve",
        product_id=product_id,
        device_ids=devices,
        voucher_claim_id=claim_id,
    )
    await settled(env, handle)

    assert voucher_event_types(sessions, voucher.id) == ["voucher.claimed", "voucher.redeemed"]
    assert subscription_events(sessions, contract_id).types == ["subscription.activated", OPENED]


async def test_cancel_at_period_end_reports_canceling_then_canceled_and_revocations(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, cycle="P30D")
    devices = make_devices(sessions, owner="fin", count=2)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="fin", product_id=product_id, device_ids=devices
    )
    first = await settled(env, handle)
    await handle.signal(SubscriptionWorkflow.cancel, CancelRequest())
    await wait_for_state(handle, lambda s: s.status is SubscriptionStatus.CANCELING)
    await handle.result()

    outbox = subscription_events(sessions, contract_id)
    assert outbox.types == [
        "subscription.activated",
        OPENED,
        OPENED,
        "subscription.canceling",
        "subscription.canceled",
        REVOKED,
        REVOKED,
    ]
    assert outbox.of("subscription.canceling")[0].data["mode"] == "at_period_end"
    assert all(at(e.data["paid_through"]) == first.paid_through for e in outbox.of(REVOKED))


async def test_cancel_immediately_reports_canceled_and_revocations_now(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, cycle="P30D")
    devices = make_devices(sessions, owner="gil", count=2)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="gil", product_id=product_id, device_ids=devices
    )
    first = await settled(env, handle)
    await env.sleep(timedelta(days=10))
    await handle.signal(SubscriptionWorkflow.cancel, CancelRequest(mode=CancelMode.IMMEDIATELY))
    await handle.result()

    outbox = subscription_events(sessions, contract_id)
    assert outbox.types[-3:] == ["subscription.canceled", REVOKED, REVOKED]
    assert first.paid_through is not None
    assert all(at(e.data["paid_through"]) < first.paid_through for e in outbox.of(REVOKED))


async def test_device_removed_and_added_report_the_change_and_its_entitlements(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, cycle="P30D")
    devices = make_devices(sessions, owner="hal", count=3)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="hal", product_id=product_id, device_ids=devices[:2]
    )
    first = await settled(env, handle)
    await handle.signal(SubscriptionWorkflow.device_removed, DeviceChange(device_id=devices[0]))
    await handle.signal(SubscriptionWorkflow.device_added, DeviceChange(device_id=devices[2]))
    await wait_for_state(handle, lambda s: s.pending_additions == (devices[2],))
    await env.sleep(timedelta(days=30, minutes=1))
    await settled(env, handle)

    outbox = subscription_events(sessions, contract_id)
    assert outbox.types == [
        "subscription.activated",
        OPENED,
        OPENED,
        "subscription.devices_changed",
        REVOKED,
        "subscription.renewed",
        OPENED,
        OPENED,
    ]
    changed = outbox.of("subscription.devices_changed")[0].data
    assert (changed["added"], changed["removed"]) == ([devices[2]], [devices[0]])
    revoked = outbox.of(REVOKED)[0].data
    assert (revoked["device_id"], at(revoked["paid_through"])) == (devices[0], first.paid_through)
    assert {e.data["device_id"] for e in outbox.of(OPENED)[2:]} == {devices[1], devices[2]}


async def test_group_with_no_devices_left_reports_ended(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, cycle="P30D")
    devices = make_devices(sessions, owner="ida", count=2)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="ida", product_id=product_id, device_ids=devices
    )
    await settled(env, handle)
    for device_id in devices:
        await handle.signal(SubscriptionWorkflow.device_removed, DeviceChange(device_id=device_id))
    await env.sleep(timedelta(days=31))
    await handle.result()

    outbox = subscription_events(sessions, contract_id)
    assert outbox.types[-3:] == ["subscription.ended", REVOKED, REVOKED]
    assert outbox.of("subscription.ended")[0].data["reason"] == "no_devices"
