"""Talking to one subscription workflow: handles, the live-state query, updates with their errors mapped to
problems, and signals that tolerate a workflow that has already closed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

import structlog
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api import problems
from api.services.errors import engine_problem
from models.messages import DeviceChange, SubscriptionState
from workflows.constants import subscription_workflow_id
from workflows.subscription import SubscriptionWorkflow

log = structlog.get_logger(__name__)

SubscriptionHandle = WorkflowHandle[SubscriptionWorkflow, SubscriptionState]
QUERY_TIMEOUT = timedelta(seconds=5)
# Updates answer within one workflow task; longer means no worker is polling.
UPDATE_TIMEOUT = timedelta(seconds=30)
T = TypeVar("T")


def subscription_handle(client: Client, contract_id: str) -> SubscriptionHandle:
    # No run id: the handle follows the chain of runs across continue-as-new.
    return client.get_workflow_handle_for(SubscriptionWorkflow.run, subscription_workflow_id(contract_id))


async def live_state(
    client: Client, contract_id: str, *, closed_too: bool = False
) -> SubscriptionState | None:
    """The workflow's own view while it runs (or, with `closed_too`, replayed after it closed);
    None when there is no such workflow or it cannot answer now (the caller falls back to the database)."""
    handle = subscription_handle(client, contract_id)
    try:
        description = await handle.describe(rpc_timeout=QUERY_TIMEOUT)
        if description.status != WorkflowExecutionStatus.RUNNING and not closed_too:
            return None
        return await handle.query(SubscriptionWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError) as error:
        log.info("live state unavailable", contract_id=contract_id, error=str(error))
        return None


async def updated(call: Awaitable[T]) -> T:
    """Await an update; validator refusals and closed workflows become problems."""
    try:
        async with asyncio.timeout(UPDATE_TIMEOUT.total_seconds()):
            return await call
    except TimeoutError:
        raise problems.TEMPORAL_UNAVAILABLE(
            "the subscription did not answer in time; the change may still apply, check its state"
        ) from None
    except WorkflowUpdateFailedError as failure:
        if isinstance(failure.cause, ApplicationError):
            raise engine_problem(failure.cause) from None
        raise problems.SUBSCRIPTION_ENDED(f"the subscription refused the change: {failure.cause}") from None
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise problems.SUBSCRIPTION_ENDED(
                "the subscription has already ended", code="subscription_ended"
            ) from None
        raise problems.TEMPORAL_UNAVAILABLE(f"the workflow service did not answer: {error.message}") from None


async def signal_device_removed(client: Client, contract_id: str, change: DeviceChange) -> bool:
    """Tell a subscription a device left; False when the workflow has already closed."""
    try:
        await subscription_handle(client, contract_id).signal(SubscriptionWorkflow.device_removed, change)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise problems.TEMPORAL_UNAVAILABLE(f"the workflow service did not answer: {error.message}") from None
    return True
