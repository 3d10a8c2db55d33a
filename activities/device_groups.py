"""Which running subscription already holds a device for a resource type (one group per device and
resource at a time). Shared by the signup API's pre-check and the signing activity's final check."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from models.contract import Contract
from models.enums import SubscriptionStatus

NON_FINAL = [s for s in SubscriptionStatus if not s.is_final]


def device_holder(
    session: Session,
    *,
    resource_type: str,
    device_ids: Sequence[str],
    exclude_contract: uuid.UUID | None = None,
) -> tuple[uuid.UUID, str] | None:
    """(contract id, device id) of a running subscription for this resource that shares a device."""
    query = select(Contract.id, Contract.device_ids).where(
        col(Contract.status).in_(NON_FINAL),
        col(Contract.resource_type) == resource_type,
        col(Contract.device_ids).op("&&")(list(device_ids)),  # shares a device
    )
    if exclude_contract is not None:
        query = query.where(col(Contract.id) != exclude_contract)
    row = session.exec(query.limit(1)).first()
    if row is None:
        return None
    return row[0], next(d for d in device_ids if d in row[1])


def lock_user_resource(session: Session, *, user_id: str, resource_type: str) -> None:
    """Serialise signups of one user for one resource until the transaction ends (devices are one
    owner's, so this closes the check-then-insert race without locking anyone else)."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(:key)"),
        {"key": session.scalar(select(func.hashtextextended(f"{user_id}\x1f{resource_type}", 0)))},
    )
