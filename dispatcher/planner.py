"""Planning: an event first seen gets one pending delivery per enabled endpoint that takes its type, and
is then marked dispatched, in one statement so a crash leaves either both or neither."""

from __future__ import annotations

from sqlalchemy import text

from infra.db import SessionFactory, transaction

# SKIP LOCKED lets several dispatcher copies plan side by side, each taking events the others have not.
_PLAN = text(
    """
    WITH batch AS (
        SELECT id, type, subscription_id, sequence FROM events
        WHERE dispatched_at IS NULL
        ORDER BY position
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    ), planned AS (
        INSERT INTO webhook_deliveries (id, event_id, endpoint_id, subscription_id, sequence, status,
                                        attempts, next_attempt_at)
        SELECT gen_random_uuid(), b.id, w.id, b.subscription_id, b.sequence, 'pending', 0, now()
        FROM batch b JOIN webhook_endpoints w
          ON w.enabled
         AND (w.event_types @> ARRAY['*']::varchar[] OR w.event_types @> ARRAY[b.type]::varchar[])
        ON CONFLICT (event_id, endpoint_id) DO NOTHING
    )
    UPDATE events SET dispatched_at = now() FROM batch WHERE events.id = batch.id
    RETURNING events.id
    """
)


def plan_deliveries(sessions: SessionFactory, *, batch: int) -> int:
    """Plan up to `batch` undispatched events; return how many were planned."""
    with transaction(sessions) as session:
        return len(session.execute(_PLAN, {"batch": batch}).all())
