"""The delivery queue in PostgreSQL: claim due deliveries under a lease (FOR UPDATE SKIP LOCKED, so copies
never take the same one), then record each attempt's outcome and schedule the retry or give up."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from infra.db import SessionFactory, transaction
from webhooks.envelope import Envelope

# A delivery is due when its time has come, no copy holds a live lease on it, and — per endpoint and
# subscription — nothing earlier in the sequence is still pending or even unplanned: a subscription's
# events go out one at a time, in order, while other subscriptions and endpoints go on.
_CLAIM = text(
    """
    WITH due AS (
        SELECT d.id FROM webhook_deliveries d
        JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.enabled
        WHERE d.status = 'pending'
          AND d.next_attempt_at <= now()
          AND (d.leased_until IS NULL OR d.leased_until < now())
          AND (d.subscription_id IS NULL OR d.sequence IS NULL OR (
                NOT EXISTS (
                    SELECT 1 FROM webhook_deliveries p
                    WHERE p.status = 'pending' AND p.endpoint_id = d.endpoint_id
                      AND p.subscription_id = d.subscription_id AND p.sequence < d.sequence)
            AND NOT EXISTS (
                    SELECT 1 FROM events u
                    WHERE u.subscription_id = d.subscription_id AND u.sequence < d.sequence
                      AND u.dispatched_at IS NULL)))
        ORDER BY d.next_attempt_at
        LIMIT :limit
        FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE webhook_deliveries d
    SET leased_until = now() + make_interval(secs => :lease), lease_token = :token
    FROM due, events e, webhook_endpoints w
    WHERE d.id = due.id AND e.id = d.event_id AND w.id = d.endpoint_id
    RETURNING d.id, d.attempts, d.endpoint_id, w.url, w.secret, w.previous_secret,
              w.previous_secret_expires_at, e.id AS event_id, e.type, e.created_at, e.subscription_id,
              e.voucher_id, e.user_id, e.sequence, e.data
    """
)

_DELIVERED = text(
    """
    UPDATE webhook_deliveries
    SET status = 'delivered', attempts = attempts + 1, delivered_at = now(), leased_until = NULL,
        lease_token = NULL
    WHERE id = :id AND lease_token = :token
    """
)

_RETRY = text(
    """
    UPDATE webhook_deliveries
    SET attempts = attempts + 1, next_attempt_at = :next_at, leased_until = NULL, lease_token = NULL
    WHERE id = :id AND lease_token = :token
    """
)

_GIVE_UP = text(
    """
    UPDATE webhook_deliveries
    SET status = 'failed', attempts = attempts + 1, leased_until = NULL, lease_token = NULL
    WHERE id = :id AND lease_token = :token
    RETURNING endpoint_id
    """
)

_DISABLE = text(
    """
    UPDATE webhook_endpoints SET enabled = false, disabled_reason = :reason, updated_at = now()
    WHERE id = :endpoint_id AND enabled
    """
)

_ATTEMPT = text(
    """
    INSERT INTO webhook_attempts (delivery_id, endpoint_id, event_id, attempt, status_code, latency_ms,
                                  error, next_retry_at)
    VALUES (:delivery_id, :endpoint_id, :event_id, :attempt, :status_code, :latency_ms, :error, :next_at)
    """
)


@dataclass(frozen=True)
class Claim:
    delivery_id: uuid.UUID
    lease_token: uuid.UUID
    attempts: int
    endpoint_id: uuid.UUID
    url: str
    secrets: tuple[str, ...]
    envelope: Envelope


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.error is None


def _claim_of(row: Any, token: uuid.UUID, now: datetime) -> Claim:
    secrets = [row.secret]
    if row.previous_secret and row.previous_secret_expires_at and row.previous_secret_expires_at > now:
        secrets.append(row.previous_secret)
    return Claim(
        delivery_id=row.id,
        lease_token=token,
        attempts=row.attempts,
        endpoint_id=row.endpoint_id,
        url=row.url,
        secrets=tuple(secrets),
        envelope=Envelope(
            id=row.event_id,
            type=row.type,
            created_at=row.created_at,
            subscription_id=row.subscription_id,
            voucher_id=row.voucher_id,
            user_id=row.user_id,
            sequence=row.sequence,
            data=row.data,
        ),
    )


def claim_due(sessions: SessionFactory, *, limit: int, lease_seconds: float) -> list[Claim]:
    token = uuid.uuid4()
    with transaction(sessions) as session:
        rows = session.execute(_CLAIM, {"limit": limit, "lease": lease_seconds, "token": token}).all()
    now = datetime.now(UTC)
    return [_claim_of(row, token, now) for row in rows]


def record_outcome(
    sessions: SessionFactory, *, claim: Claim, outcome: Outcome, retry_in: float | None
) -> datetime | None:
    """Store the attempt; on failure schedule the next one after `retry_in` seconds, or, with None, give
    the delivery up and disable its endpoint. Returns when the retry is due. A copy whose lease was taken
    over records its attempt but leaves the delivery to the copy that holds it now."""
    keys = {"id": claim.delivery_id, "token": claim.lease_token}
    next_at: datetime | None = None
    with transaction(sessions) as session:
        if outcome.delivered:
            session.execute(_DELIVERED, keys)
        elif retry_in is not None:
            next_at = datetime.now(UTC) + timedelta(seconds=retry_in)
            session.execute(_RETRY, {**keys, "next_at": next_at})
        elif session.execute(_GIVE_UP, keys).first() is not None:
            reason = (
                f"every delivery attempt of event {claim.envelope.id} failed"
                f" ({claim.attempts + 1} attempts); the last: {outcome.error}"
            )
            session.execute(_DISABLE, {"endpoint_id": claim.endpoint_id, "reason": reason})
        session.execute(
            _ATTEMPT,
            {
                "delivery_id": claim.delivery_id,
                "endpoint_id": claim.endpoint_id,
                "event_id": claim.envelope.id,
                "attempt": claim.attempts + 1,
                "status_code": outcome.status_code,
                "latency_ms": outcome.latency_ms,
                "error": outcome.error,
                "next_at": next_at,
            },
        )
    return next_at
