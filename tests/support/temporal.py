"""Run a real worker for one test and drive subscriptions through the Temporal client."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.billing import BillingActivities
from gateway.http_client import HttpPaymentGateway
from infra.db import SessionFactory
from models import names
from models.enums import SubscriptionStatus
from models.messages import SubscriptionInput, SubscriptionState
from workers.main import build_worker
from workflows.constants import subscription_workflow_id
from workflows.subscription import SubscriptionWorkflow

SubscriptionHandle = WorkflowHandle[SubscriptionWorkflow, SubscriptionState]

# Workflows each task queue's test started: terminated when its worker stops, so a subscription left
# waiting for its next period cannot hold up time skipping for the tests after it.
_started: dict[str, list[SubscriptionHandle]] = {}


async def terminate_started(task_queue: str) -> None:
    for handle in _started.pop(task_queue, []):
        # Terminating a finished workflow is refused; that refusal is the expected case.
        with suppress(RPCError):
            await handle.terminate(reason="test finished")


@asynccontextmanager
async def running_worker(
    env: WorkflowEnvironment,
    *,
    sessions: SessionFactory,
    gateway_url: str,
    task_queue: str,
    keep_workflows: bool = False,
    gateway: HttpPaymentGateway | None = None,
) -> AsyncIterator[None]:
    """A worker for the block; the workflows started on its queue are terminated after it, unless kept (for a
    test that stops the worker and starts another). Its gateway client is `gateway` if given (closed after
    the block), else one for `gateway_url`."""
    gateway = gateway or HttpPaymentGateway(gateway_url, timeout_seconds=1.5)
    try:
        with ThreadPoolExecutor(max_workers=16) as executor:
            worker = build_worker(
                env.client,
                task_queue=task_queue,
                activities=BillingActivities(sessions, gateway),
                executor=executor,
                max_concurrent_activities=16,
            )
            async with worker:
                try:
                    yield
                finally:
                    if not keep_workflows:
                        await terminate_started(task_queue)
    finally:
        gateway.close()


async def start_subscription(
    env: WorkflowEnvironment,
    *,
    task_queue: str,
    user_id: str,
    product_id: uuid.UUID,
    device_ids: tuple[str, ...],
    token: str = "sandbox_ok",
    periods_per_run: int = 12,
    local_charge_attempts: int = 60,
    timezone: str = "UTC",
    voucher_claim_id: uuid.UUID | None = None,
    contract_id: str | None = None,
    billing_day: int | None = None,
) -> tuple[str, SubscriptionHandle]:
    contract_id = contract_id or str(uuid.uuid4())
    handle = await env.client.start_workflow(
        SubscriptionWorkflow.run,
        SubscriptionInput(
            contract_id=contract_id,
            user_id=user_id,
            product_id=str(product_id),
            device_ids=device_ids,
            agreement_token=token,
            timezone=timezone,
            periods_per_run=periods_per_run,
            local_charge_attempts=local_charge_attempts,
            voucher_claim_id=str(voucher_claim_id) if voucher_claim_id else None,
            billing_day=billing_day,
        ),
        id=subscription_workflow_id(contract_id),
        task_queue=task_queue,
    )
    _started.setdefault(task_queue, []).append(handle)
    return contract_id, handle


async def wait_for_state(
    handle: SubscriptionHandle,
    predicate: Callable[[SubscriptionState], bool],
    *,
    within: float = 30.0,
) -> SubscriptionState:
    """Query (in real time) until the predicate holds; the last state is in the failure message."""
    deadline = time.monotonic() + within
    state: SubscriptionState | None = None
    while time.monotonic() < deadline:
        state = await handle.query(SubscriptionWorkflow.state)
        if predicate(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"state never matched within {within}s; last: {state}")


async def settled(
    env: WorkflowEnvironment, handle: SubscriptionHandle, *, within: float = 30.0
) -> SubscriptionState:
    """Wait until the workflow is idle: finished, or waiting for a charge time still in the future."""
    now = await env.get_current_time()

    def idle(state: SubscriptionState) -> bool:
        if state.status.is_final:
            return True
        if state.status is SubscriptionStatus.CANCELING:
            return state.paid_through is not None and state.paid_through > now
        return state.next_charge_at is not None and state.next_charge_at > now

    return await wait_for_state(handle, idle, within=within)


async def notices_scheduled_at(handle: SubscriptionHandle) -> list[datetime]:
    """When the workflow scheduled each notice, by the server's (skipped) clock."""
    times = []
    async for event in handle.fetch_history_events():
        scheduled = event.activity_task_scheduled_event_attributes
        if event.event_type is EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED and (
            scheduled.activity_type.name == names.SEND_RENEWAL_NOTICE
        ):
            times.append(event.event_time.ToDatetime(tzinfo=UTC))
    return times
