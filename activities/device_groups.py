"""Which running subscription already holds a device for a resource type (one group per device and
resource at a time). Shared by the signup API's pre-check and the signing activity's final check; both
run on every signup, so they are plain SQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import Session

from infra.db import driver_connection
from models.enums import SubscriptionStatus
from workflows.rules import LiveDevice

NON_FINAL = [s.value for s in SubscriptionStatus if not s.is_final]

_HOLDER = """
SELECT id, device_ids FROM contracts
WHERE status = ANY(%(running)s) AND resource_type = %(resource_type)s
  AND device_ids && %(device_ids)s::varchar[]
  AND id IS DISTINCT FROM %(exclude)s
LIMIT 1
"""

_DEVICES = "SELECT id, owner_user_id, status FROM devices WHERE id = ANY(%s)"


def live_devices(session: Session, device_ids: Sequence[str]) -> list[LiveDevice]:
    """The devices that exist among these ids, with their owner and binding as they are now."""
    rows = driver_connection(session).execute(_DEVICES, (list(device_ids),)).fetchall()
    return [LiveDevice(*row) for row in rows]


def device_holder(
    session: Session,
    *,
    resource_type: str,
    device_ids: Sequence[str],
    exclude_contract: uuid.UUID | None = None,
) -> tuple[uuid.UUID, str] | None:
    """(contract id, device id) of a running subscription for this resource that shares a device."""
    row = (
        driver_connection(session)
        .execute(
            _HOLDER,
            {
                "running": NON_FINAL,
                "resource_type": resource_type,
                "device_ids": list(device_ids),
                "exclude": exclude_contract,
            },
        )
        .fetchone()
    )
    if row is None:
        return None
    return row[0], next(d for d in device_ids if d in row[1])


def lock_user_resource(session: Session, *, user_id: str, resource_type: str) -> None:
    """Serialise signups of one user for one resource until the transaction ends (devices are one
    owner's, so this closes the check-then-insert race without locking anyone else)."""
    driver_connection(session).execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{user_id}\x1f{resource_type}",)
    )
