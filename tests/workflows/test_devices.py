"""Seed claim 7: devices leaving the group drop out of the next plan, keep their entitlement to
paid-through, and a group with none left ends; devices joining are charged and entitled from the next
period."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory
from models.enums import EntitlementStatus, SubscriptionStatus
from models.messages import DeviceChange
from tests.fixtures.sandbox import SandboxGateway
from tests.support.factories import make_devices, make_product
from tests.support.records import ledger_periods, records
from tests.support.temporal import settled, start_subscription, wait_for_state
from workflows.subscription import SubscriptionWorkflow


async def test_removed_device_drops_out_of_next_plan_and_keeps_entitlement_to_paid_through(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, price=1000, cycle="P30D")
    devices = make_devices(sessions, owner="ivy", count=3)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="ivy", product_id=product_id, device_ids=devices
    )
    first = await settled(env, handle)
    await handle.signal(SubscriptionWorkflow.device_removed, DeviceChange(device_id=devices[0]))
    pending = await wait_for_state(handle, lambda s: s.pending_removals == (devices[0],))
    assert pending.device_ids == devices  # still entitled and paid for until the period ends
    assert records(sessions, contract_id).entitlements[devices[0]].status is EntitlementStatus.ACTIVE

    await env.sleep(timedelta(days=30, minutes=1))
    second = await settled(env, handle)

    assert second.device_ids == devices[1:]
    saved = records(sessions, contract_id)
    assert saved.plans[1].device_ids == list(devices[1:])
    assert saved.plans[1].amount_minor == 2000
    removed = saved.entitlements[devices[0]]
    assert (removed.status, removed.valid_until) == (EntitlementStatus.REVOKED, first.paid_through)


async def test_group_with_no_devices_left_ends_at_paid_through(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, cycle="P30D")
    devices = make_devices(sessions, owner="jon", count=2)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="jon", product_id=product_id, device_ids=devices
    )
    first = await settled(env, handle)
    for device_id in devices:
        await handle.signal(
            SubscriptionWorkflow.device_removed, DeviceChange(device_id=device_id, reason="unbound")
        )

    await env.sleep(timedelta(days=31))
    final = await handle.result()

    assert final.status is SubscriptionStatus.ENDED
    assert final.termination_reason == "no_devices"
    saved = records(sessions, contract_id)
    assert all(e.valid_until == first.paid_through for e in saved.entitlements.values())
    assert ledger_periods(sandbox_gateway.ledger(contract_id)) == [(0, "succeeded")]


async def test_added_device_is_charged_and_entitled_from_next_period(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, price=1000, cycle="P30D")
    devices = make_devices(sessions, owner="kim", count=2)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="kim", product_id=product_id, device_ids=devices[:1]
    )
    await settled(env, handle)
    await handle.signal(SubscriptionWorkflow.device_added, DeviceChange(device_id=devices[1]))
    await wait_for_state(handle, lambda s: s.pending_additions == (devices[1],))

    await env.sleep(timedelta(days=30, minutes=1))
    second = await settled(env, handle)

    assert second.device_ids == devices
    saved = records(sessions, contract_id)
    assert [p.amount_minor for p in saved.plans] == [1000, 2000]
    assert saved.entitlements[devices[1]].valid_until == second.paid_through


async def test_device_unbound_by_platform_drops_out_without_a_signal(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    from tests.support.factories import unbind

    product_id = make_product(sessions, price=1000, cycle="P30D")
    devices = make_devices(sessions, owner="lea", count=1)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="lea", product_id=product_id, device_ids=devices
    )
    await settled(env, handle)
    unbind(sessions, devices[0])

    await env.sleep(timedelta(days=31))
    final = await handle.result()

    assert final.status is SubscriptionStatus.ENDED
    assert final.termination_reason == "renewal_not_verified:no_devices"
    assert ledger_periods(sandbox_gateway.ledger(contract_id)) == [(0, "succeeded")]
