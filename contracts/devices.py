"""Which running subscription already holds a device for a resource type (one group per device and
resource at a time), and the devices as they are now. Shared by the API's pre-checks and the signing
activity's final check; both run on every signup, so they are plain SQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

import psycopg
from psycopg.rows import class_row
from sqlmodel import Session

from infra.db import driver_connection
from models.enums import SubscriptionStatus
from models.renewal import LiveDevice
from models.signup import DeviceHolder

NON_FINAL = [s.value for s in SubscriptionStatus if not s.is_final]

_HOLDER = """
SELECT id AS contract_id, device_ids FROM contracts
WHERE status = ANY(%(running)s) AND resource_type = {resource_type}
  AND device_ids && %(device_ids)s::varchar[]
  AND id IS DISTINCT FROM %(exclude)s
LIMIT 1
"""
HOLDER_OF_RESOURCE = _HOLDER.format(resource_type="%(resource_type)s")
# The product's resource type read within the statement: signup validation sends this together with the
# product's own read, before knowing the product.
_HOLDER_FOR_PRODUCT = _HOLDER.format(
    resource_type="(SELECT resource_type FROM products WHERE id = %(product_id)s)"
)

_DEVICES = "SELECT id AS device_id, owner_user_id, status FROM devices WHERE id = ANY(%s)"


class _HolderRow(NamedTuple):
    contract_id: uuid.UUID
    device_ids: list[str]


def send_live_devices(db: psycopg.Connection[Any], device_ids: Sequence[str]) -> psycopg.Cursor[LiveDevice]:
    """Ask for the devices that exist among these ids, with their owner and binding as they are now
    (`fetchall` reads the answer)."""
    return db.cursor(row_factory=class_row(LiveDevice)).execute(_DEVICES, (list(device_ids),))


def live_devices(session: Session, device_ids: Sequence[str]) -> list[LiveDevice]:
    return send_live_devices(driver_connection(session), device_ids).fetchall()


def device_holder(
    session: Session,
    *,
    resource_type: str,
    device_ids: Sequence[str],
    exclude_contract: uuid.UUID | None = None,
) -> DeviceHolder | None:
    """A running subscription for this resource that shares a device, and the device."""
    cursor = driver_connection(session).cursor(row_factory=class_row(_HolderRow))
    cursor.execute(
        HOLDER_OF_RESOURCE,
        {
            "running": NON_FINAL,
            "resource_type": resource_type,
            "device_ids": list(device_ids),
            "exclude": exclude_contract,
        },
    )
    return holder_of(cursor, device_ids)


def send_product_device_holder(
    db: psycopg.Connection[Any],
    *,
    product_id: uuid.UUID,
    device_ids: Sequence[str],
    exclude_contract: uuid.UUID | None,
) -> psycopg.Cursor[_HolderRow]:
    """Ask `device_holder`'s question for the product's resource type (`holder_of` reads the answer)."""
    return db.cursor(row_factory=class_row(_HolderRow)).execute(
        _HOLDER_FOR_PRODUCT,
        {
            "running": NON_FINAL,
            "product_id": product_id,
            "device_ids": list(device_ids),
            "exclude": exclude_contract,
        },
    )


def holder_of(cursor: psycopg.Cursor[_HolderRow], device_ids: Sequence[str]) -> DeviceHolder | None:
    row = cursor.fetchone()
    if row is None:
        return None
    return DeviceHolder(row.contract_id, next(d for d in device_ids if d in row.device_ids))


def lock_user_resource(session: Session, *, user_id: str, resource_type: str) -> None:
    """Serialise signups of one user for one resource until the transaction ends (devices are one
    owner's, so this closes the check-then-insert race without locking anyone else)."""
    driver_connection(session).execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{user_id}\x1f{resource_type}",)
    )
