"""Webhook endpoint bodies: what an operator sends, what the API shows (the secret only when it is new)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from models.event_types import EVENT_TYPES
from models.fields import RequestBody
from models.webhook import WebhookAttempt, WebhookEndpoint

# PostgreSQL refuses NUL bytes and no URL or type name has control characters; lengths are checked, with
# precise problems, by the endpoint rules.
WebhookUrl = Annotated[
    str, Field(pattern=r"^[^\x00-\x1f\x7f]*$", description="http(s) URL that receives signed POSTs.")
]
EventTypeName = Annotated[str, Field(max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
Description = Annotated[str, Field(pattern=r"^[^\x00]*$")]

_TYPES_DOC = 'Event types to receive, or ["*"] for all: ' + ", ".join(EVENT_TYPES)


class WebhookEndpointCreate(RequestBody):
    url: WebhookUrl = Field(examples=["https://example.com/hooks"])
    event_types: list[EventTypeName] = Field(description=_TYPES_DOC, examples=[["*"]], max_length=50)
    description: Description = ""


class WebhookEndpointUpdate(RequestBody):
    """Only the fields sent change; enabling an endpoint clears the reason it was disabled."""

    url: WebhookUrl | None = None
    event_types: list[EventTypeName] | None = Field(default=None, max_length=50)
    enabled: bool | None = None
    description: Description | None = None


class WebhookEndpointOut(BaseModel):
    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    # Until then deliveries are signed with the previous secret as well as the current one.
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> WebhookEndpointOut:
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            event_types=endpoint.event_types,
            description=endpoint.description,
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            previous_secret_expires_at=endpoint.previous_secret_expires_at,
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
        )


class WebhookEndpointWithSecret(WebhookEndpointOut):
    secret: str = Field(description="The signing secret (Standard Webhooks `whsec_…`), shown only now.")

    @classmethod
    def with_secret(cls, endpoint: WebhookEndpoint) -> WebhookEndpointWithSecret:
        return cls(**WebhookEndpointOut.of(endpoint).model_dump(), secret=endpoint.secret)


class WebhookAttemptOut(BaseModel):
    id: int
    event_id: str
    attempt: int
    status_code: int | None
    latency_ms: int
    error: str | None
    next_retry_at: datetime | None
    attempted_at: datetime

    @classmethod
    def of(cls, attempt: WebhookAttempt) -> WebhookAttemptOut:
        assert attempt.id is not None
        return cls(
            id=attempt.id,
            event_id=attempt.event_id,
            attempt=attempt.attempt,
            status_code=attempt.status_code,
            latency_ms=attempt.latency_ms,
            error=attempt.error,
            next_retry_at=attempt.next_retry_at,
            attempted_at=attempt.attempted_at,
        )


class WebhookAttemptPage(BaseModel):
    data: list[WebhookAttemptOut]
    # Pass as `before` for the next (older) page; null on the last page.
    next_before: int | None


class RedeliveryOut(BaseModel):
    event_id: str
    deliveries_scheduled: int
