"""Revoke device entitlements with a bounded update. They are opened and extended by the settlement's
record statement (`activities.settlement`), which upserts them with the charge's outcome."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col

from infra.metrics import ENTITLEMENTS_REVOKED, after_commit
from models.entitlement import Entitlement
from models.enums import EntitlementStatus


def end_entitlements(
    session: Session,
    *,
    contract_id: uuid.UUID,
    until: datetime,
    reason: str,
    device_ids: Iterable[str] | None = None,
) -> list[tuple[str, str, datetime]]:
    """Cap the contract's entitlements at `until` and mark them revoked with the reason; the ones it
    revoked, as (device id, resource type, valid until), for their events."""
    statement = (
        update(Entitlement)
        .where(col(Entitlement.contract_id) == contract_id)
        .where(col(Entitlement.status) == EntitlementStatus.ACTIVE)
        .values(
            valid_until=func.least(Entitlement.valid_until, until),
            status=EntitlementStatus.REVOKED,
            revoke_reason=reason,
            updated_at=func.now(),
        )
        .returning(col(Entitlement.device_id), col(Entitlement.resource_type), col(Entitlement.valid_until))
    )
    if device_ids is not None:
        statement = statement.where(col(Entitlement.device_id).in_(list(device_ids)))
    # Core statement on the connection: no ORM bulk-persistence machinery for rows we never load.
    ended = [(row[0], row[1], row[2]) for row in session.connection().execute(statement)]
    if ended:
        after_commit(session, lambda: _count_revoked(ended, reason))
    return ended


def _count_revoked(ended: list[tuple[str, str, datetime]], reason: str) -> None:
    # A reason's detail after the colon (a decline code, an attempt count) would multiply the series.
    kind = reason.partition(":")[0]
    for _device_id, resource_type, _until in ended:
        ENTITLEMENTS_REVOKED.labels(resource_type=resource_type, reason=kind).inc()
