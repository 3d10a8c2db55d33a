"""Webhook endpoints (admin): register receivers, rotate their secrets, read their delivery attempts, and
send an event again."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from api.auth import AdminDep
from api.deps import SessionsDep, SettingsDep
from api.problems import (
    COMMON_RESPONSES,
    EVENT_NOT_FOUND,
    INVALID_WEBHOOK_ENDPOINT,
    INVALID_WEBHOOK_URL,
    UNKNOWN_EVENT_TYPE,
    WEBHOOK_ENDPOINT_NOT_FOUND,
    Problem,
)
from api.schemas.webhooks import (
    RedeliveryOut,
    WebhookAttemptOut,
    WebhookAttemptPage,
    WebhookEndpointCreate,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
)
from infra.settings import Settings
from models.webhook import WebhookEndpoint
from webhooks import endpoints
from webhooks.endpoints import InvalidEndpoint

router = APIRouter(tags=["webhooks"], responses=COMMON_RESPONSES)
PREFIX = "/v1/webhook-endpoints"


def _refusal(error: InvalidEndpoint) -> Problem:
    kind = INVALID_WEBHOOK_URL if error.field == "url" else INVALID_WEBHOOK_ENDPOINT
    extra = {}
    if error.unknown:
        kind = UNKNOWN_EVENT_TYPE
        extra = {"unknown_event_types": list(error.unknown)}
    return kind(error.detail, field=error.field, code=error.code, extra=extra)


async def _check(
    settings: Settings,
    *,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
) -> None:
    # Resolving the host name blocks: off the event loop.
    try:
        await run_in_threadpool(
            lambda: endpoints.check_endpoint(
                url=url,
                event_types=event_types,
                description=description,
                allow_private=settings.webhook_allow_private,
            )
        )
    except InvalidEndpoint as error:
        raise _refusal(error) from None


def _found(endpoint: WebhookEndpoint | None) -> WebhookEndpoint:
    if endpoint is None:
        raise WEBHOOK_ENDPOINT_NOT_FOUND("no webhook endpoint has this id", field="endpoint_id")
    return endpoint


@router.post(PREFIX, status_code=201, response_model=WebhookEndpointWithSecret)
async def create_endpoint(
    body: WebhookEndpointCreate, _admin: AdminDep, sessions: SessionsDep, settings: SettingsDep
) -> WebhookEndpointWithSecret:
    """Register a receiver. The answer shows the signing secret once; keep it to verify signatures."""
    await _check(settings, url=body.url, event_types=body.event_types, description=body.description)
    endpoint = await run_in_threadpool(
        lambda: endpoints.create_endpoint(
            sessions=sessions, url=body.url, event_types=body.event_types, description=body.description
        )
    )
    return WebhookEndpointWithSecret.with_secret(endpoint)


@router.get(PREFIX, response_model=list[WebhookEndpointOut])
async def list_endpoints(_admin: AdminDep, sessions: SessionsDep) -> list[WebhookEndpointOut]:
    """Every endpoint, oldest first (secrets are never shown again)."""
    found = await run_in_threadpool(lambda: endpoints.list_endpoints(sessions=sessions))
    return [WebhookEndpointOut.of(e) for e in found]


@router.get(PREFIX + "/{endpoint_id}", response_model=WebhookEndpointOut)
async def get_endpoint(endpoint_id: uuid.UUID, _admin: AdminDep, sessions: SessionsDep) -> WebhookEndpointOut:
    """One endpoint, with the reason it was disabled if it was."""
    found = await run_in_threadpool(
        lambda: endpoints.get_endpoint(sessions=sessions, endpoint_id=endpoint_id)
    )
    return WebhookEndpointOut.of(_found(found))


@router.patch(PREFIX + "/{endpoint_id}", response_model=WebhookEndpointOut)
async def update_endpoint(
    endpoint_id: uuid.UUID,
    body: WebhookEndpointUpdate,
    _admin: AdminDep,
    sessions: SessionsDep,
    settings: SettingsDep,
) -> WebhookEndpointOut:
    """Change the URL, the event types, the description, or enable/disable the endpoint."""
    await _check(settings, url=body.url, event_types=body.event_types, description=body.description)
    updated = await run_in_threadpool(
        lambda: endpoints.update_endpoint(
            sessions=sessions,
            endpoint_id=endpoint_id,
            url=body.url,
            event_types=body.event_types,
            enabled=body.enabled,
            description=body.description,
        )
    )
    return WebhookEndpointOut.of(_found(updated))


@router.delete(PREFIX + "/{endpoint_id}", status_code=204, response_class=Response)
async def delete_endpoint(endpoint_id: uuid.UUID, _admin: AdminDep, sessions: SessionsDep) -> Response:
    """Remove an endpoint and its pending deliveries; its events stay in the feed."""
    deleted = await run_in_threadpool(
        lambda: endpoints.delete_endpoint(sessions=sessions, endpoint_id=endpoint_id)
    )
    if not deleted:
        _found(None)
    return Response(status_code=204)


@router.post(PREFIX + "/{endpoint_id}/rotate-secret", response_model=WebhookEndpointWithSecret)
async def rotate_secret(
    endpoint_id: uuid.UUID, _admin: AdminDep, sessions: SessionsDep, settings: SettingsDep
) -> WebhookEndpointWithSecret:
    """A new signing secret, shown once. The old one keeps signing beside it until
    `previous_secret_expires_at`, so receivers can switch without losing a message."""
    overlap = timedelta(seconds=settings.webhook_secret_overlap_seconds)
    rotated = await run_in_threadpool(
        lambda: endpoints.rotate_secret(sessions=sessions, endpoint_id=endpoint_id, overlap=overlap)
    )
    return WebhookEndpointWithSecret.with_secret(_found(rotated))


@router.get(PREFIX + "/{endpoint_id}/deliveries", response_model=WebhookAttemptPage)
async def list_deliveries(
    endpoint_id: uuid.UUID,
    _admin: AdminDep,
    sessions: SessionsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1, description="An attempt id from `next_before`.")] = None,
) -> WebhookAttemptPage:
    """Every delivery attempt to this endpoint, newest first: event, status code, latency, error and
    when the next retry is due."""

    def read() -> list[WebhookAttemptOut]:
        _found(endpoints.get_endpoint(sessions=sessions, endpoint_id=endpoint_id))
        found = endpoints.list_attempts(
            sessions=sessions, endpoint_id=endpoint_id, limit=limit, before=before
        )
        return [WebhookAttemptOut.of(a) for a in found]

    page = await run_in_threadpool(read)
    return WebhookAttemptPage(data=page, next_before=page[-1].id if len(page) == limit else None)


@router.post("/v1/events/{event_id}/redeliver", status_code=202, response_model=RedeliveryOut)
async def redeliver(
    event_id: Annotated[str, Path(max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")],
    _admin: AdminDep,
    sessions: SessionsDep,
) -> RedeliveryOut:
    """Send an event again to every enabled endpoint that takes its type, as a new delivery."""
    scheduled = await run_in_threadpool(lambda: endpoints.redeliver(sessions=sessions, event_id=event_id))
    if scheduled is None:
        raise EVENT_NOT_FOUND("no event has this id", field="event_id")
    return RedeliveryOut(event_id=event_id, deliveries_scheduled=scheduled)
