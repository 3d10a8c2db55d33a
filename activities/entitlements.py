"""Open, extend and revoke device entitlements; every write is an upsert or a bounded update."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from models.entitlement import Entitlement
from models.enums import EntitlementStatus


def open_entitlements(
    session: Session,
    *,
    contract_id: uuid.UUID,
    resource_type: str,
    device_ids: Iterable[str],
    valid_from: datetime,
    valid_until: datetime,
) -> None:
    rows = [
        {
            "id": uuid.uuid4(),
            "contract_id": contract_id,
            "device_id": device_id,
            "resource_type": resource_type,
            "valid_from": valid_from,
            "valid_until": valid_until,
            "status": EntitlementStatus.ACTIVE.value,
            "revoke_reason": None,
        }
        for device_id in device_ids
    ]
    if not rows:
        return
    statement = insert(Entitlement).values(rows)
    statement = statement.on_conflict_do_update(
        constraint="uq_entitlements_contract_device",
        set_={
            # A retry or a replayed period never shortens what was already granted.
            "valid_until": func.greatest(Entitlement.valid_until, statement.excluded.valid_until),
            "status": EntitlementStatus.ACTIVE.value,
            "revoke_reason": None,
            "updated_at": func.now(),
        },
    )
    # Core statement on the connection: no ORM bulk-persistence machinery for rows we never load.
    session.connection().execute(statement)


def end_entitlements(
    session: Session,
    *,
    contract_id: uuid.UUID,
    until: datetime,
    reason: str,
    device_ids: Iterable[str] | None = None,
) -> None:
    """Cap the contract's entitlements at `until` and mark them revoked with the reason."""
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
    )
    if device_ids is not None:
        statement = statement.where(col(Entitlement.device_id).in_(list(device_ids)))
    # Core statement on the connection: no ORM bulk-persistence machinery for rows we never load.
    session.connection().execute(statement)
