"""Open, extend and revoke device entitlements; every write is an upsert or a bounded update."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col

from infra.db import driver_connection
from models.entitlement import Entitlement
from models.enums import EntitlementStatus

# A retry or a replayed period never shortens what was already granted.
_OPEN = """
INSERT INTO entitlements (id, contract_id, device_id, resource_type, valid_from, valid_until, status)
SELECT gen_random_uuid(), %(contract_id)s, device_id, %(resource_type)s, %(valid_from)s, %(valid_until)s,
       'active'
FROM unnest(%(device_ids)s::varchar[]) AS device_id
ON CONFLICT ON CONSTRAINT uq_entitlements_contract_device DO UPDATE SET
    valid_until = greatest(entitlements.valid_until, excluded.valid_until),
    status = 'active', revoke_reason = NULL, updated_at = now()
"""


def open_entitlements(
    session: Session,
    *,
    contract_id: uuid.UUID,
    resource_type: str,
    device_ids: Iterable[str],
    valid_from: datetime,
    valid_until: datetime,
) -> None:
    # Plain SQL on the session's connection: this runs once per paid period, on the hot path.
    driver_connection(session).execute(
        _OPEN,
        {
            "contract_id": contract_id,
            "resource_type": resource_type,
            "device_ids": list(device_ids),
            "valid_from": valid_from,
            "valid_until": valid_until,
        },
    )


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
