"""Seed claims 3, 4 and 6: every later period refreshes the contract from live product and device data,
verifies it, and charges the updated plan; a renewal that fails verification terminates the contract."""

from __future__ import annotations

from datetime import timedelta

import httpx
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory
from models.cycle import BillingCycle
from models.enums import EntitlementStatus, PlanStatus, SubscriptionStatus
from tests.fixtures.sandbox import SandboxGateway
from tests.support.factories import discontinue, make_devices, make_product, set_price, unbind
from tests.support.records import ledger_periods, records
from tests.support.temporal import settled, start_subscription


async def test_renewal_charges_current_price_for_devices_still_bound(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, price=1500, cycle="P30D")
    devices = make_devices(sessions, owner="alice", count=3)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="alice", product_id=product_id, device_ids=devices
    )
    first = await settled(env, handle)
    set_price(sessions, product_id, 2000)
    unbind(sessions, devices[1])

    await env.sleep(timedelta(days=30, minutes=1))
    second = await settled(env, handle)

    assert second.period == 1
    assert second.device_ids == (devices[0], devices[2])
    assert second.paid_through == first.paid_through + timedelta(days=30)  # type: ignore[operator]
    saved = records(sessions, contract_id)
    assert [(p.period, p.amount_minor, p.unit_price_minor, p.status) for p in saved.plans] == [
        (0, 4500, 1500, PlanStatus.PAID),
        (1, 4000, 2000, PlanStatus.PAID),
    ]
    dropped = saved.entitlements[devices[1]]
    assert dropped.valid_until == first.paid_through
    assert dropped.status is EntitlementStatus.REVOKED
    assert dropped.revoke_reason == "device_left_group"
    for kept in (devices[0], devices[2]):
        assert saved.entitlements[kept].valid_until == second.paid_through
        assert saved.entitlements[kept].status is EntitlementStatus.ACTIVE
    assert ledger_periods(sandbox_gateway.ledger(contract_id)) == [(0, "succeeded"), (1, "succeeded")]


async def test_renewal_of_discontinued_product_terminates_contract(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, cycle="P30D")
    devices = make_devices(sessions, owner="bob", count=2)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="bob", product_id=product_id, device_ids=devices
    )
    first = await settled(env, handle)
    discontinue(sessions, product_id)

    await env.sleep(timedelta(days=31))
    final = await handle.result()

    assert final.status is SubscriptionStatus.TERMINATED
    assert final.termination_reason == "renewal_not_verified:product_discontinued"
    saved = records(sessions, contract_id)
    assert saved.contract is not None
    assert saved.contract.status is SubscriptionStatus.TERMINATED
    assert saved.contract.agreement_status == "released"
    assert [p.period for p in saved.plans] == [0]
    assert all(
        e.status is EntitlementStatus.REVOKED and e.valid_until == first.paid_through
        for e in saved.entitlements.values()
    )
    assert "renewal_not_verified" in saved.event_kinds
    assert ledger_periods(sandbox_gateway.ledger(contract_id)) == [(0, "succeeded")]
    async with httpx.AsyncClient(base_url=sandbox_gateway.url) as http:
        agreement = (await http.get(f"/v1/agreements/{saved.contract.agreement_id}")).json()
    assert agreement["status"] == "released"


async def test_renewal_above_agreement_cap_terminates_contract(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    # The cap signed is 2 x price x max devices = 2 x 1000 x 2; three times the price is over it.
    product_id = make_product(sessions, price=1000, max_devices=2, cycle="P30D")
    devices = make_devices(sessions, owner="carol", count=2)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="carol", product_id=product_id, device_ids=devices
    )
    await settled(env, handle)
    set_price(sessions, product_id, 3000)

    await env.sleep(timedelta(days=31))
    final = await handle.result()

    assert final.status is SubscriptionStatus.TERMINATED
    assert final.termination_reason == "renewal_not_verified:amount_exceeds_agreement_cap"
    assert ledger_periods(sandbox_gateway.ledger(contract_id)) == [(0, "succeeded")]


async def test_next_period_follows_calendar_months_in_contract_zone(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, cycle="P1M")
    devices = make_devices(sessions, owner="dan", count=1)
    contract_id, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="dan",
        product_id=product_id,
        device_ids=devices,
        timezone="Asia/Shanghai",
    )
    state = await settled(env, handle)
    saved = records(sessions, contract_id)
    assert saved.contract is not None
    anchor = saved.contract.anchor_at
    cycle = BillingCycle.parse("P1M")
    for period in (1, 2, 3):
        await env.sleep(timedelta(days=32))
        state = await settled(env, handle)
        assert state.period >= period  # type: ignore[operator]
    saved = records(sessions, contract_id)
    for plan in saved.plans:
        assert (plan.period_start, plan.period_end) == cycle.period(anchor, plan.period, "Asia/Shanghai")
    assert state.paid_through == cycle.boundary(anchor, state.period + 1, "Asia/Shanghai")  # type: ignore[operator]
