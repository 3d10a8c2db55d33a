"""200 interleaved device changes (signals and updates, some refused) on one subscription while its periods
roll over every 2 s and its runs continue-as-new: the final group is what the accepted changes, applied in
order, lead to; every update is accepted or refused as predicted; and no device removed from the group
keeps an entitlement past the end of the last period paid for it."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory
from models.enums import EntitlementStatus, PlanStatus, SubscriptionStatus
from models.messages import CancelRequest, DeviceChange, DeviceChangeRequest, SubscriptionState
from tests.fixtures.sandbox import SandboxGateway
from tests.reliability.checks import (
    assert_one_charge_per_period,
    assert_reconciles_clean,
    wait_for_paid,
    wait_until,
)
from tests.reliability.device_churn import Change, Operation, generate, replay
from tests.reliability.services import WorkerConfig, Workers, server_address
from tests.support.factories import make_devices, make_product
from tests.support.records import records
from tests.support.temporal import SubscriptionHandle, start_subscription
from workflows.subscription import SubscriptionWorkflow

OPERATIONS = 200
MAX_DEVICES = 5
SEED = 20261123
SENDING_SECONDS = 10.0  # spread over five 2 s periods, so changes land before, during and after each


async def send(handle: SubscriptionHandle, op: Operation) -> bool | None:
    """Deliver one change; for an update, whether it was accepted."""
    if op.change is Change.SIGNAL_ADD:
        await handle.signal(SubscriptionWorkflow.device_added, DeviceChange(device_id=op.add[0]))
        return None
    if op.change is Change.SIGNAL_REMOVE:
        await handle.signal(SubscriptionWorkflow.device_removed, DeviceChange(device_id=op.remove[0]))
        return None
    try:
        await handle.execute_update(
            SubscriptionWorkflow.change_devices, DeviceChangeRequest(add=op.add, remove=op.remove)
        )
    except WorkflowUpdateFailedError:
        return False
    return True


async def paced(handle: SubscriptionHandle, ops: list[Operation], *, seconds: float) -> list[bool | None]:
    """Send the operations in order, one at a time, spread over at least `seconds`."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    answers: list[bool | None] = []
    for index, op in enumerate(ops):
        await asyncio.sleep(max(0.0, start + index * seconds / len(ops) - loop.time()))
        answers.append(await send(handle, op))
    return answers


def group_after_pending(state: SubscriptionState) -> frozenset[str]:
    return frozenset(set(state.device_ids) - set(state.pending_removals) | set(state.pending_additions))


@pytest.mark.timeout(180)
async def test_interleaved_device_changes_end_in_the_last_accepted_group(
    dev_server: WorkflowEnvironment,
    sessions: SessionFactory,
    database_url_for_test: str,
    sandbox: SandboxGateway,
    workers: Workers,
    task_queue: str,
) -> None:
    workers.start(
        "worker",
        WorkerConfig(
            database_url=database_url_for_test,
            temporal_address=server_address(dev_server),
            gateway_url=sandbox.url,
            task_queue=task_queue,
        ),
    )
    product_id = make_product(sessions, price=300, cycle="PT2S", max_devices=MAX_DEVICES)
    pool = make_devices(sessions, owner="pat", count=MAX_DEVICES + 3)
    initial = pool[:2]
    ops = generate(random.Random(SEED), pool, initial, OPERATIONS, max_devices=MAX_DEVICES)
    expected, predicted = replay(initial, ops, max_devices=MAX_DEVICES)
    contract_id, handle = await start_subscription(
        dev_server,
        task_queue=task_queue,
        user_id="pat",
        product_id=product_id,
        device_ids=initial,
        periods_per_run=3,
    )
    await wait_for_paid(sessions, {contract_id: 1}, within=60)

    paid_before = len(records(sessions, contract_id).plans)
    answers = await paced(handle, ops, seconds=SENDING_SECONDS)
    rolled_over = len(records(sessions, contract_id).plans) - paid_before
    assert rolled_over >= 3, "periods should have rolled over while the changes arrived"

    assert [a for a in answers if a is not None] == predicted
    assert group_after_pending(await handle.query(SubscriptionWorkflow.state)) == expected

    def last_paid_group() -> frozenset[str]:
        paid = [p for p in records(sessions, contract_id).plans if p.status is PlanStatus.PAID]
        return frozenset(paid[-1].device_ids)

    await wait_until(
        lambda: last_paid_group() == expected, within=30, what="a period charged for the final group"
    )
    canceling = await handle.execute_update(SubscriptionWorkflow.request_cancel, CancelRequest())
    assert canceling.status is SubscriptionStatus.CANCELING
    final = await handle.result()

    assert final.status is SubscriptionStatus.CANCELED
    assert final.run_number >= 2  # pending changes were carried across continue-as-new
    assert frozenset(final.device_ids) == expected
    assert final.periods_charged == assert_one_charge_per_period(sandbox, sessions, contract_id)
    saved = records(sessions, contract_id)
    paid_through: dict[str, datetime] = {}
    for plan in (p for p in saved.plans if p.status is PlanStatus.PAID):
        for device_id in plan.device_ids:
            paid_through[device_id] = max(plan.period_end, paid_through.get(device_id, plan.period_end))
    assert final.paid_through is not None
    for device_id, entitlement in saved.entitlements.items():
        assert entitlement.valid_until <= paid_through[device_id], device_id
        if device_id in expected:
            assert entitlement.valid_until == final.paid_through
        else:
            assert entitlement.status is EntitlementStatus.REVOKED
            assert entitlement.valid_until < final.paid_through
    assert_reconciles_clean(database_url_for_test, sandbox)
