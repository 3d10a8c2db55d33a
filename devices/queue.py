"""The devices whose state is due for publishing, in PostgreSQL.

An entitlement event queues its device in `device_changes` (a trigger, in the event's own transaction). A
publisher takes a batch in one transaction: the queued rows (FOR UPDATE SKIP LOCKED, so copies take
different ones), then each device's `device_states` row under a row lock, a new version, and the device's
entitlements read after that lock. It publishes while it holds the locks and deletes the queued rows when
the broker has acknowledged every state. So the publishes of one device follow each other in lock order,
each reading the database later than the one before, with a higher version: an older state can never
follow a newer one. A publisher that dies rolls back, and the rows are taken again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from models.device_state import DeviceState, EntitlementRow, device_state

_PICK = """
WITH picked AS (
    SELECT id, device_id FROM device_changes ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), known AS (
    INSERT INTO device_states (device_id)
    SELECT DISTINCT device_id FROM picked ORDER BY device_id
    ON CONFLICT (device_id) DO NOTHING
)
SELECT id, device_id FROM picked
"""

# A device another copy is publishing now is skipped; its queued rows wait for the next batch.
_LOCK = """
UPDATE device_states s SET version = nextval('device_state_version')
FROM (
    SELECT device_id FROM device_states WHERE device_id = ANY(%(ids)s)
    ORDER BY device_id FOR UPDATE SKIP LOCKED
) locked
WHERE s.device_id = locked.device_id
RETURNING s.device_id, s.version, clock_timestamp()
"""

# A statement of its own, after the lock: under READ COMMITTED it sees every change committed before the
# lock was taken, including what the copy that held the lock before saw.
_READ = """
SELECT device_id, contract_id, resource_type, status, valid_until FROM entitlements
WHERE device_id = ANY(%(ids)s)
"""

_DONE = """
WITH published AS (
    UPDATE device_states SET published_at = now() WHERE device_id = ANY(%(ids)s)
)
DELETE FROM device_changes WHERE id = ANY(%(change_ids)s)
"""

_QUEUE_ALL = """
INSERT INTO device_changes (device_id)
SELECT device_id FROM entitlements UNION SELECT device_id FROM device_states
"""

_QUEUE_SOME = "INSERT INTO device_changes (device_id) SELECT unnest(%(ids)s::text[])"


@dataclass
class Batch:
    """The states to publish, and what the batch took but leaves for later (devices another copy holds)."""

    states: list[DeviceState] = field(default_factory=list)
    change_ids: list[int] = field(default_factory=list)
    skipped: int = 0
    # Queued rows taken: as many as asked means more may be waiting.
    picked: int = 0


async def take_batch(conn: psycopg.AsyncConnection[Any], *, limit: int) -> Batch:
    """Inside the caller's transaction: queued devices, locked, with new versions and current states."""
    picked = await (await conn.execute(_PICK, {"limit": limit})).fetchall()
    if not picked:
        return Batch()
    queued = sorted({device_id for _, device_id in picked})
    async with conn.pipeline():
        locking = await conn.execute(_LOCK, {"ids": queued})
        reading = await conn.execute(_READ, {"ids": queued})
    locked = {device_id: (version, at) for device_id, version, at in await locking.fetchall()}
    rows: dict[str, list[EntitlementRow]] = {device_id: [] for device_id in locked}
    for device_id, contract_id, resource_type, status, valid_until in await reading.fetchall():
        if device_id in rows:
            rows[device_id].append((contract_id, resource_type, status, valid_until))
    states = [
        device_state(device_id=device_id, version=version, updated_at=at, rows=rows[device_id])
        for device_id, (version, at) in sorted(locked.items())
    ]
    return Batch(
        states=states,
        change_ids=[change_id for change_id, device_id in picked if device_id in locked],
        skipped=len(queued) - len(locked),
        picked=len(picked),
    )


async def finish_batch(conn: psycopg.AsyncConnection[Any], batch: Batch) -> None:
    """Inside the batch's transaction, once the broker acknowledged every state of it."""
    ids = [state.device_id for state in batch.states]
    await conn.execute(_DONE, {"ids": ids, "change_ids": batch.change_ids})


async def queue_devices(conn: psycopg.AsyncConnection[Any], device_ids: Sequence[str] | None = None) -> int:
    """Queue devices for publishing again: these, or every device that has or had an entitlement."""
    if device_ids is None:
        cursor = await conn.execute(_QUEUE_ALL)
    else:
        cursor = await conn.execute(_QUEUE_SOME, {"ids": list(device_ids)})
    return cursor.rowcount
