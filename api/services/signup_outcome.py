"""Starting the subscription workflow with update-with-start, and the signup answer its outcome gives:
201 paid (active), 202 first charge declined softly and scheduled for retry, 402 signing refused or first
charge failed for good. The answer is what the idempotency record stores and replays."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api import problems
from api.schemas.subscriptions import SubscriptionOut
from api.services.errors import engine_problem
from api.services.workflow_calls import subscription_handle
from models.enums import SubscriptionStatus
from models.messages import SignupRequest, SubscriptionInput, SubscriptionState
from workflows import search_attributes as sa
from workflows.constants import subscription_workflow_id
from workflows.subscription import SubscriptionWorkflow

# Past this, answer 503 and let the client retry with the same key: the retry re-attaches.
OUTCOME_TIMEOUT = timedelta(seconds=30)


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class ProductBrief:
    """What the workflow's start metadata needs from the product."""

    id: uuid.UUID
    name: str
    resource_type: str


def answer_for(state: SubscriptionState) -> Answer:
    subscription = SubscriptionOut.of_state(state).model_dump(mode="json")
    if state.periods_charged > 0:
        return Answer(201, subscription)
    if not state.status.is_final:
        return Answer(202, subscription)
    reason = state.termination_reason or "failed"
    code = state.last_decline.code if state.last_decline else reason
    problem = problems.PAYMENT_DECLINED(
        f"the first charge failed for good ({reason}); nothing was charged and no device is entitled",
        field="payment.agreement_token",
        code=code,
        extra={"subscription_id": state.contract_id, "subscription": subscription},
    )
    return Answer(problem.status, problem.body())


def answer_for_failure(error: BaseException, contract_id: str) -> Answer:
    """The answer when the workflow failed (signing refused, or the group became invalid meanwhile)."""
    cause = error.cause if isinstance(error, WorkflowFailureError | WorkflowUpdateFailedError) else error
    if not isinstance(cause, ApplicationError):
        cause = ApplicationError(f"signing did not complete: {cause}", type="SigningFailed")
    problem = engine_problem(cause)
    problem.extra["subscription_id"] = contract_id
    return Answer(problem.status, problem.body())


def _start_operation(
    *, task_queue: str, request: SignupRequest, product: ProductBrief
) -> WithStartWorkflowOperation[SubscriptionWorkflow, SubscriptionState]:
    devices = len(request.device_ids)
    plural = "s" if devices != 1 else ""
    return WithStartWorkflowOperation(
        SubscriptionWorkflow.run,
        SubscriptionInput.model_validate(dict(request)),
        id=subscription_workflow_id(request.contract_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A contract's workflow runs once: re-attaching after it closed must not start it again.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        static_summary=f"{product.name} · {devices} device{plural} · user {request.user_id}",
        static_details=(
            f"**Product:** {product.name} (`{product.id}`)\n\n**User:** {request.user_id}\n\n"
            f"**Devices:** {', '.join(request.device_ids)}"
        ),
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.SUBSCRIPTION_STATUS, SubscriptionStatus.SIGNING.value),
                SearchAttributePair(sa.USER_ID, request.user_id),
                SearchAttributePair(sa.PRODUCT_ID, request.product_id),
                SearchAttributePair(sa.DEVICE_COUNT, devices),
            ]
        ),
    )


async def _closed_outcome(client: Client, contract_id: str) -> Answer:
    handle = subscription_handle(client, contract_id)
    try:
        state = await handle.result()
    except WorkflowFailureError as failure:
        return answer_for_failure(failure, contract_id)
    return answer_for(state)


async def _outcome(
    client: Client,
    operation: WithStartWorkflowOperation[SubscriptionWorkflow, SubscriptionState],
    contract_id: str,
) -> Answer:
    try:
        state = await client.execute_update_with_start_workflow(
            SubscriptionWorkflow.signup_outcome, start_workflow_operation=operation
        )
    except (WorkflowAlreadyStartedError, WorkflowUpdateFailedError):
        # Closed already (a re-attach after the answer was lost), or failed while the update waited.
        with suppress(WorkflowAlreadyStartedError):
            await operation.workflow_handle()  # the SDK parks the start error there; collect it
        return await _closed_outcome(client, contract_id)
    if state.status.is_final and state.periods_charged == 0 and state.last_decline is None:
        # Ended before any charge: signing was refused. The workflow's failure carries the field and code.
        return await _closed_outcome(client, contract_id)
    return answer_for(state)


async def run_signup(
    *,
    client: Client,
    task_queue: str,
    request: SignupRequest,
    product: ProductBrief,
) -> Answer:
    """Start (or attach to) the contract's workflow and wait for the signup outcome."""
    contract_id = request.contract_id
    operation = _start_operation(task_queue=task_queue, request=request, product=product)
    try:
        async with asyncio.timeout(OUTCOME_TIMEOUT.total_seconds()):
            return await _outcome(client, operation, contract_id)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        # Our wait ran out (the SDK reports the cancellation it caused as its own error), or the server's
        # long poll did: the workflow goes on either way, and a retry with the key re-attaches to it.
        raise problems.SIGNUP_IN_PROGRESS(
            "the signup has not been decided yet; retry with the same Idempotency-Key",
            headers={"Retry-After": "2"},
            extra={"subscription_id": contract_id},
        ) from None
    except RPCError as error:
        raise problems.TEMPORAL_UNAVAILABLE(
            f"the workflow service did not answer: {error.message}; retry with the same Idempotency-Key"
        ) from None
