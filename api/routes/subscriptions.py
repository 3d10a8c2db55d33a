"""Device-group subscriptions: signup, state and history, cancel, and changes to the group."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api import idempotency
from api.auth import CallerDep, User, UserDep
from api.deps import SessionsDep, SettingsDep, TemporalDep
from api.problems import COMMON_RESPONSES, PROBLEM_JSON, TEMPORAL_UNAVAILABLE, problem_responses
from api.schemas.common import DevicePath
from api.schemas.subscriptions import (
    CancelIn,
    DevicesAdd,
    SubscriptionCreate,
    SubscriptionDetail,
    SubscriptionOut,
    SubscriptionPage,
)
from api.services import signup
from api.services.device_checks import assert_devices_joinable
from api.services.subscriptions import (
    find_subscription,
    list_subscriptions,
    load_history,
    owner_and_resource,
)
from api.services.workflow_calls import live_state, subscription_handle, updated
from infra.db import transaction
from models.enums import SubscriptionStatus
from models.fields import UserId
from models.messages import CancelRequest, DeviceChangeRequest
from workflows.subscription import SubscriptionWorkflow

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"], responses=COMMON_RESPONSES)

REPLAYED_HEADER = "Idempotent-Replayed"


@router.post(
    "",
    status_code=201,
    response_model=SubscriptionOut,
    responses=problem_responses(
        402,
        409,
        503,
        also={
            202: {"model": SubscriptionOut, "description": "First charge declined softly; retry scheduled"}
        },
    ),
)
async def create_subscription(
    body: SubscriptionCreate,
    key: idempotency.IdempotencyKey,
    user: UserDep,
    sessions: SessionsDep,
    client: TemporalDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Subscribe a group of the user's devices to a product, paying through a recurring agreement.

    Answers once signing and the first charge attempt are decided: **201** paid and entitled; **202** the
    first charge was declined softly and will be retried after the product's dunning delay; **402** the
    agreement was refused or the charge failed for good. A retry with the same `Idempotency-Key` and body
    returns the same answer and starts nothing; the same key with another body is a 422."""
    answer, replayed = await signup.subscribe(
        sessions=sessions,
        client=client,
        task_queue=settings.task_queue,
        user_id=user.user_id,
        key=key,
        body=body,
    )
    return JSONResponse(
        answer.body,
        status_code=answer.status,
        media_type=PROBLEM_JSON if answer.status >= 400 else "application/json",
        headers={REPLAYED_HEADER: "true"} if replayed else None,
    )


@router.get("", response_model=SubscriptionPage)
async def list_all(
    caller: CallerDep,
    sessions: SessionsDep,
    user_id: Annotated[UserId | None, Query(description="Admin only: one user's subscriptions.")] = None,
    status: SubscriptionStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> SubscriptionPage:
    """Subscriptions as last recorded in the database, newest first. A user sees their own (`user_id` is
    ignored); the admin sees everyone's, optionally filtered by user and status."""
    owner = caller.user_id if isinstance(caller, User) else user_id
    items = await run_in_threadpool(
        lambda: list_subscriptions(
            sessions=sessions, user_id=owner, status=status, limit=limit, offset=offset
        )
    )
    return SubscriptionPage(items=items, limit=limit, offset=offset)


@router.get("/{subscription_id}", response_model=SubscriptionDetail, responses=problem_responses(503))
async def get_subscription(
    subscription_id: uuid.UUID, caller: CallerDep, sessions: SessionsDep, client: TemporalDep
) -> SubscriptionDetail:
    """Live state from the workflow while it runs (the database's record once it has closed), with the
    history from the database: charge plans, attempts, declines and events."""
    subscription = await run_in_threadpool(
        lambda: find_subscription(sessions=sessions, caller=caller, subscription_id=subscription_id)
    )
    history = await run_in_threadpool(
        lambda: load_history(sessions=sessions, subscription_id=subscription_id)
    )
    # A closed workflow without a contract (signing refused) only the workflow itself can describe.
    state = await live_state(client, str(subscription_id), closed_too=subscription.contract is None)
    if state is not None:
        current = SubscriptionOut.of_state(state)
    elif subscription.contract is not None:
        paid = sum(1 for p in history.plans if p.paid_at is not None)
        current = SubscriptionOut.of_contract(subscription.contract, periods_charged=paid)
    else:
        raise TEMPORAL_UNAVAILABLE(
            "the subscription is still signing and its workflow does not answer now; retry shortly",
            headers={"Retry-After": "2"},
        )
    return SubscriptionDetail(**current.model_dump(), history=history)


@router.post(
    "/{subscription_id}/cancel", response_model=SubscriptionOut, responses=problem_responses(409, 503)
)
async def cancel_subscription(
    subscription_id: uuid.UUID,
    caller: CallerDep,
    sessions: SessionsDep,
    client: TemporalDep,
    body: Annotated[CancelIn | None, Body()] = None,
) -> SubscriptionOut:
    """Cancel: `at_period_end` (default) keeps the devices entitled until paid-through and charges nothing
    more; `immediately` revokes the entitlements now. Answers once the cancellation has taken effect."""
    await run_in_threadpool(
        lambda: find_subscription(sessions=sessions, caller=caller, subscription_id=subscription_id)
    )
    request = CancelRequest(
        mode=(body or CancelIn()).mode, reason="user_request" if isinstance(caller, User) else "admin_request"
    )
    handle = subscription_handle(client, str(subscription_id))
    state = await updated(handle.execute_update(SubscriptionWorkflow.request_cancel, request))
    return SubscriptionOut.of_state(state)


@router.post(
    "/{subscription_id}/devices", response_model=SubscriptionOut, responses=problem_responses(409, 503)
)
async def add_devices(
    subscription_id: uuid.UUID, body: DevicesAdd, user: UserDep, sessions: SessionsDep, client: TemporalDep
) -> SubscriptionOut:
    """Add devices to the group. They must be the user's, bound, and not subscribed to the same resource
    elsewhere; they join (and are charged) from the next period."""

    def check() -> None:
        subscription = find_subscription(sessions=sessions, caller=user, subscription_id=subscription_id)
        owner, resource_type = owner_and_resource(subscription)
        with transaction(sessions) as session:
            assert_devices_joinable(
                session,
                owner_user_id=owner,
                resource_type=resource_type,
                device_ids=body.device_ids,
                contract_id=subscription_id,
            )

    await run_in_threadpool(check)
    handle = subscription_handle(client, str(subscription_id))
    change = DeviceChangeRequest(add=tuple(body.device_ids))
    return SubscriptionOut.of_state(
        await updated(handle.execute_update(SubscriptionWorkflow.change_devices, change))
    )


@router.delete(
    "/{subscription_id}/devices/{device_id}",
    response_model=SubscriptionOut,
    responses=problem_responses(409, 503),
)
async def remove_device(
    subscription_id: uuid.UUID,
    device_id: DevicePath,
    user: UserDep,
    sessions: SessionsDep,
    client: TemporalDep,
) -> SubscriptionOut:
    """Take a device out of the group: it stays entitled until paid-through and is not charged again."""
    await run_in_threadpool(
        lambda: find_subscription(sessions=sessions, caller=user, subscription_id=subscription_id)
    )
    handle = subscription_handle(client, str(subscription_id))
    change = DeviceChangeRequest(remove=(device_id,))
    return SubscriptionOut.of_state(
        await updated(handle.execute_update(SubscriptionWorkflow.change_devices, change))
    )
