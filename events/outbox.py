"""Writing events to the outbox, inside the transaction of the change they report.

An event's id is a hash of its business key (`models.events.event_id`): recording the same change again
(a retried activity, a replayed workflow task) finds the id taken and writes nothing. A subscription's
events take their `sequence` from `contracts.event_sequence` in the statement that inserts them, and only
for the ids that are new, so a retry neither writes a twin nor burns a number.

The SQL comes in pieces so that a hot statement (the settlement's record) can carry its events in its own
CTEs: `NEW_EVENTS` keeps the events not yet written, the contract's UPDATE adds `SEQUENCE_BUMP` to its SET
list and returns `id, user_id, event_sequence`, and `outbox_insert` writes them numbered after it. Every
such statement runs through `execute_numbered`, which takes the contract's lock before it starts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from models.events import EventData, EventType, event_id

NEW_EVENTS = """new_events AS (
    SELECT e.id, e.type, e.data, row_number() OVER (ORDER BY e.ord) AS n
    FROM unnest(%(event_ids)s::text[], %(event_types)s::text[], %(event_data)s::jsonb[])
         WITH ORDINALITY AS e(id, type, data, ord)
    WHERE NOT EXISTS (SELECT 1 FROM events x WHERE x.id = e.id)
)"""

SEQUENCE_BUMP = "event_sequence = contracts.event_sequence + (SELECT count(*) FROM new_events)"


def outbox_insert(contract: str) -> str:
    """The CTE that inserts `new_events` for the contract CTE named `contract` (after its UPDATE)."""
    return f"""outbox AS (
    INSERT INTO events (id, type, subscription_id, user_id, sequence, data)
    SELECT n.id, n.type, c.id, c.user_id, c.event_sequence - (SELECT count(*) FROM new_events) + n.n, n.data
    FROM new_events n, {contract} c
    ON CONFLICT (id) DO NOTHING
)"""


_WRITE = f"""
WITH {NEW_EVENTS}, contract AS (
    UPDATE contracts SET {SEQUENCE_BUMP} WHERE id = %(contract_id)s RETURNING id, user_id, event_sequence
), {outbox_insert("contract")}
SELECT count(*) FROM new_events
"""

_LOCK_CONTRACT = "SELECT 1 FROM contracts WHERE id = %(contract_id)s FOR UPDATE"

_WRITE_VOUCHER = """
INSERT INTO events (id, type, voucher_id, user_id, data)
VALUES (%(id)s, %(type)s, %(voucher_id)s, %(user_id)s, %(data)s)
ON CONFLICT (id) DO NOTHING
"""


@dataclass(frozen=True)
class NewEvent:
    """An event to record: `key` names the change it reports, once and for all."""

    key: str
    type: EventType
    data: EventData

    @property
    def id(self) -> str:
        return event_id(self.key)

    def json(self) -> Jsonb:
        return Jsonb(self.data.model_dump(mode="json"))


def event_params(events: Sequence[NewEvent]) -> dict[str, Any]:
    """The parameters `NEW_EVENTS` reads, in the order the events get their sequence numbers."""
    return {
        "event_ids": [event.id for event in events],
        "event_types": [event.type.value for event in events],
        "event_data": [event.json() for event in events],
    }


def execute_numbered(
    connection: psycopg.Connection[Any], statement: str, params: dict[str, Any]
) -> psycopg.Cursor[Any]:
    """Run a statement that numbers a subscription's events after taking the contract's row lock in a
    statement of its own, in the same round trip and transaction (`params` names `contract_id`).

    A statement reads `events` in the snapshot it starts with. Left to wait for the lock itself, behind a
    concurrent writer of the same event, it would still find that event new, count it into the sequence,
    then lose its insert to the other's: a gap. Started once the lock is held, it sees what was committed."""
    with connection.pipeline():
        connection.execute(_LOCK_CONTRACT, params)
        return connection.execute(statement, params)


def write_subscription_events(
    connection: psycopg.Connection[Any], *, contract_id: uuid.UUID, events: Sequence[NewEvent]
) -> int:
    """Record a subscription's events in the caller's transaction; how many were new. The contract's row
    lock, taken first, keeps every concurrent writer's numbers apart until the caller commits."""
    if not events:
        return 0
    row = execute_numbered(
        connection, _WRITE, {"contract_id": contract_id, **event_params(events)}
    ).fetchone()
    return int(row[0]) if row else 0


def write_voucher_event(
    connection: psycopg.Connection[Any], *, voucher_id: uuid.UUID, user_id: str, event: NewEvent
) -> None:
    """Record a voucher's event in the caller's transaction; vouchers' events carry no sequence."""
    connection.execute(
        _WRITE_VOUCHER,
        {
            "id": event.id,
            "type": event.type.value,
            "voucher_id": voucher_id,
            "user_id": user_id,
            "data": event.json(),
        },
    )
