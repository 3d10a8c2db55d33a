"""Cancellation: at period end keeps entitlements to paid-through; immediately revokes now; a second
cancel is harmless; termination always releases the agreement."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory
from models.enums import CancelMode, EntitlementStatus, SubscriptionStatus
from models.messages import CancelRequest
from tests.fixtures.sandbox import SandboxGateway
from tests.support.factories import make_devices, make_product
from tests.support.records import ledger_periods, records, wait_for_records
from tests.support.temporal import settled, start_subscription, wait_for_state
from workflows.subscription import SubscriptionWorkflow


async def test_cancel_at_period_end_keeps_entitlements_until_paid_through(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, cycle="P30D")
    devices = make_devices(sessions, owner="max", count=2)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="max", product_id=product_id, device_ids=devices
    )
    first = await settled(env, handle)
    await handle.signal(SubscriptionWorkflow.cancel, CancelRequest())
    canceling = await wait_for_state(handle, lambda s: s.status is SubscriptionStatus.CANCELING)
    assert canceling.next_charge_at is None
    saved = await wait_for_records(sessions, contract_id, lambda r: "agreement_released" in r.event_kinds)
    assert saved.contract is not None and saved.contract.status is SubscriptionStatus.CANCELING
    assert saved.contract.agreement_status == "released"
    assert all(e.status is EntitlementStatus.ACTIVE for e in saved.entitlements.values())

    final = await handle.result()

    assert final.status is SubscriptionStatus.CANCELED
    assert final.paid_through == first.paid_through
    saved = records(sessions, contract_id)
    assert all(e.valid_until == first.paid_through for e in saved.entitlements.values())
    assert saved.contract is not None and saved.contract.agreement_status == "released"
    # The agreement went when the cancel was recorded, before the period ended.
    assert saved.event_kinds.index("agreement_released") < saved.event_kinds.index("canceled")
    assert ledger_periods(sandbox_gateway.ledger(contract_id)) == [(0, "succeeded")]


async def test_cancel_immediately_revokes_entitlements_now(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, cycle="P30D")
    devices = make_devices(sessions, owner="ned", count=2)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="ned", product_id=product_id, device_ids=devices
    )
    first = await settled(env, handle)
    await env.sleep(timedelta(days=10))
    await handle.signal(SubscriptionWorkflow.cancel, CancelRequest(mode=CancelMode.IMMEDIATELY))
    final = await handle.result()

    assert final.status is SubscriptionStatus.CANCELED
    saved = records(sessions, contract_id)
    assert first.paid_through is not None
    for entitlement in saved.entitlements.values():
        assert entitlement.status is EntitlementStatus.REVOKED
        assert entitlement.valid_until < first.paid_through - timedelta(days=19)
    assert saved.contract is not None and saved.contract.agreement_status == "released"


async def test_second_cancel_is_harmless_and_immediate_overrides_period_end(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, cycle="P30D")
    devices = make_devices(sessions, owner="oli", count=1)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="oli", product_id=product_id, device_ids=devices
    )
    await settled(env, handle)
    await handle.signal(SubscriptionWorkflow.cancel, CancelRequest())
    await handle.signal(SubscriptionWorkflow.cancel, CancelRequest())
    await wait_for_state(handle, lambda s: s.status is SubscriptionStatus.CANCELING)
    await handle.signal(SubscriptionWorkflow.cancel, CancelRequest(mode=CancelMode.IMMEDIATELY))
    final = await handle.result()

    assert final.status is SubscriptionStatus.CANCELED
    assert final.cancel_mode is CancelMode.IMMEDIATELY
    kinds = records(sessions, contract_id).event_kinds
    assert kinds.count("cancel_requested") == 1
    assert kinds.count("canceled") == 1


async def test_cancel_while_past_due_ends_now_without_charging(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, delays=(86_400,), max_attempts=5)
    devices = make_devices(sessions, owner="pia", count=1)
    contract_id, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="pia",
        product_id=product_id,
        device_ids=devices,
        token="sandbox_soft_decline",
    )
    await wait_for_state(handle, lambda s: s.last_decline is not None)
    await handle.signal(SubscriptionWorkflow.cancel, CancelRequest())
    final = await handle.result()

    assert final.status is SubscriptionStatus.CANCELED
    assert ledger_periods(sandbox_gateway.ledger(contract_id)) == [(0, "declined")]
