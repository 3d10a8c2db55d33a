"""Renewals as local activities: a charge still failing after its local attempts goes on as an ordinary
activity, and a subscription catching up on overdue periods charges each in a workflow task of its own;
either way every period is charged once. The wait for the next period is measured from when the charge was
answered, which a local activity does not move `workflow.now()` on to."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory
from models.names import SETTLE_PERIOD
from tests.fixtures.sandbox import SandboxGateway
from tests.reliability.checks import assert_one_charge_per_period, cancel_now, paid_periods, wait_for_paid
from tests.reliability.history import local_charge_result, waits_after_charges
from tests.support.factories import make_devices, make_product
from tests.support.records import records
from tests.support.temporal import SubscriptionHandle, running_worker, start_subscription


async def events(handle: SubscriptionHandle) -> list[HistoryEvent]:
    return list((await handle.fetch_history()).events)


def local_charges(history: list[HistoryEvent]) -> list[int]:
    """Completed workflow tasks, counted at each local charge's marker: the task it ran in."""
    tasks, found = 0, []
    for event in history:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            tasks += 1
        if local_charge_result(event) is not None:
            found.append(tasks)
    return found


def scheduled_charges(history: list[HistoryEvent]) -> int:
    return sum(
        1
        for e in history
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == SETTLE_PERIOD
    )


async def wait_for_history(
    handle: SubscriptionHandle, predicate: Callable[[list[HistoryEvent]], bool], *, within: float
) -> list[HistoryEvent]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        history = await events(handle)
        if predicate(history):
            return history
        await asyncio.sleep(0.2)
    raise AssertionError(f"history never matched within {within}s")


async def test_a_renewal_failing_its_local_attempts_goes_on_as_an_activity_and_charges_once(
    dev_server_env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
) -> None:
    env = dev_server_env
    product_id = make_product(sessions, cycle="PT3S")
    devices = make_devices(sessions, owner="ola", count=1)
    async with running_worker(env, sessions=sessions, gateway_url=sandbox_gateway.url, task_queue=task_queue):
        contract_id, handle = await start_subscription(
            env,
            task_queue=task_queue,
            user_id="ola",
            product_id=product_id,
            device_ids=devices,
            local_charge_attempts=2,
        )
        await wait_for_paid(sessions, {contract_id: 1}, within=30)
        sandbox_gateway.stop()
        try:
            # Period 1 falls due, its two local attempts fail, and it goes on as an activity.
            await wait_for_history(handle, lambda h: scheduled_charges(h) == 1, within=30)
            assert paid_periods(sessions, [contract_id]) == {contract_id: 1}
        finally:
            sandbox_gateway.start()
        await wait_for_paid(sessions, {contract_id: 2}, within=60)
        await cancel_now([handle])

    assert assert_one_charge_per_period(sandbox_gateway, sessions, contract_id) >= 2
    first_renewal = [p for p in records(sessions, contract_id).attempts if p.period == 1]
    assert [a.attempt for a in first_renewal] == [1]  # retried under one key, never a second dunning attempt


async def test_overdue_periods_are_caught_up_one_workflow_task_each(
    dev_server_env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
) -> None:
    env = dev_server_env
    product_id = make_product(sessions, cycle="PT1S")
    devices = make_devices(sessions, owner="pia", count=1)
    async with running_worker(
        env, sessions=sessions, gateway_url=sandbox_gateway.url, task_queue=task_queue, keep_workflows=True
    ):
        contract_id, handle = await start_subscription(
            env, task_queue=task_queue, user_id="pia", product_id=product_id, device_ids=devices
        )
        await wait_for_paid(sessions, {contract_id: 1}, within=30)
    # No worker for several periods: they fall due with nobody to charge them.
    await asyncio.sleep(4)
    async with running_worker(env, sessions=sessions, gateway_url=sandbox_gateway.url, task_queue=task_queue):
        await wait_for_paid(sessions, {contract_id: 5}, within=60)
        await cancel_now([handle])
        history = await events(handle)

    renewals = local_charges(history)[1:]
    assert len(renewals) >= 4 and len(set(renewals)) == len(renewals)  # one charge per workflow task
    assert scheduled_charges(history) == 0
    assert assert_one_charge_per_period(sandbox_gateway, sessions, contract_id) >= 5


async def test_the_wait_for_the_next_period_starts_when_the_charge_was_answered(
    dev_server_env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
) -> None:
    env = dev_server_env
    product_id = make_product(sessions, cycle="PT2S")
    devices = make_devices(sessions, owner="rut", count=1)
    async with running_worker(env, sessions=sessions, gateway_url=sandbox_gateway.url, task_queue=task_queue):
        contract_id, handle = await start_subscription(
            env, task_queue=task_queue, user_id="rut", product_id=product_id, device_ids=devices
        )
        await wait_for_paid(sessions, {contract_id: 3}, within=30)
        await cancel_now([handle])
        history = await events(handle)

    waits = waits_after_charges(history)
    assert len(waits) >= 3  # after the first period and after each renewal
    for wait in waits:
        # The charge ran after the task began; measured from the task's start, the wait would overrun.
        assert wait.answered_at is not None and wait.answered_at > wait.task_began
        # Measured from the answer or a moment later (when the task that started the timer saw it), never
        # from before it: a wait measured from the task's start would be longer than this.
        assert wait.duration <= wait.due - wait.answered_at
        assert wait.duration < wait.due - wait.task_began
