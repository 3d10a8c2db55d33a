"""Idempotency keys for requests that start work (signups; voucher claims may use the same helpers).

A key is reserved, with a hash of the canonical body and the id of the resource it will create, in its own
transaction *before* any work starts: a concurrent duplicate then finds the reservation and attaches to the
same resource instead of starting a second one. The answer is stored once known and replayed after."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import psycopg
from fastapi import Header
from psycopg.types.json import Jsonb
from pydantic import BaseModel
from sqlmodel import Session

from api.problems import IDEMPOTENCY_KEY_REUSED
from infra.db import SessionFactory, driver_connection, execute_alone, transaction

HEADER = "Idempotency-Key"

IdempotencyKey = Annotated[
    str,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="A client-chosen key (printable ASCII, no spaces): a retry with the same key and body "
        "gets the same answer and starts nothing new.",
    ),
]


@dataclass(frozen=True)
class Reservation:
    record_id: uuid.UUID
    resource_id: str
    response_status: int | None
    response_body: dict[str, Any]

    @property
    def answered(self) -> bool:
        return self.response_status is not None


def request_hash(body: BaseModel) -> str:
    """sha256 of the body after parsing (defaults filled, keys sorted): formatting does not matter."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# Plain SQL on the session's connection: every signup runs these, and the ORM's statement building would
# be most of the API's own work per signup.
_FIND = """
SELECT id, resource_id, response_status, response_body, request_hash FROM idempotency_records
WHERE scope = %(scope)s AND user_id = %(user_id)s AND key = %(key)s
"""

_RESERVE = """
INSERT INTO idempotency_records (id, scope, user_id, key, request_hash, resource_id, response_body)
VALUES (%(id)s, %(scope)s, %(user_id)s, %(key)s, %(digest)s, %(resource_id)s, '{}')
ON CONFLICT ON CONSTRAINT uq_idempotency_scope_user_key DO NOTHING
RETURNING id
"""

# The first stored answer wins (a concurrent duplicate computed the same).
_STORE_ANSWER = """
UPDATE idempotency_records SET response_status = %(status)s, response_body = %(body)s
WHERE id = %(id)s AND response_status IS NULL
"""


def find(session: Session, *, scope: str, user_id: str, key: str, digest: str) -> Reservation | None:
    """The earlier reservation of this key, or None; a different body under the same key is refused."""
    return earlier_of(send_find(driver_connection(session), scope=scope, user_id=user_id, key=key), digest)


def send_find(db: psycopg.Connection[Any], *, scope: str, user_id: str, key: str) -> psycopg.Cursor[Any]:
    """Ask `find`'s question, to be answered with other reads in one round trip (`earlier_of` reads it)."""
    return db.execute(_FIND, {"scope": scope, "user_id": user_id, "key": key})


def earlier_of(cursor: psycopg.Cursor[Any], digest: str) -> Reservation | None:
    row = cursor.fetchone()
    if row is None:
        return None
    record_id, resource_id, response_status, response_body, stored_digest = row
    if stored_digest != digest:
        raise IDEMPOTENCY_KEY_REUSED(
            "this Idempotency-Key was already used with a different request body",
            field=HEADER,
            code="idempotency_key_reused",
        )
    return Reservation(record_id, resource_id, response_status, dict(response_body))


def reserve(
    session: Session, *, scope: str, user_id: str, key: str, digest: str, resource_id: str
) -> Reservation:
    """Reserve the key for a new resource, or return the reservation a concurrent request made first.
    As the transaction's first statement it commits on its own; otherwise the caller commits. Only then
    does a concurrent twin see the key taken."""
    inserted = execute_alone(
        driver_connection(session),
        _RESERVE,
        {
            "id": uuid.uuid4(),
            "scope": scope,
            "user_id": user_id,
            "key": key,
            "digest": digest,
            "resource_id": resource_id,
        },
    ).fetchone()
    if inserted is not None:
        return Reservation(inserted[0], resource_id, None, {})
    # The conflicting row is committed (ON CONFLICT waited for it). The insert's snapshot may predate that
    # commit; the look-up is a statement of its own, whose snapshot sees it.
    earlier = find(session, scope=scope, user_id=user_id, key=key, digest=digest)
    assert earlier is not None
    return earlier


def store_answer(
    sessions: SessionFactory, *, record_id: uuid.UUID, status: int, body: dict[str, Any]
) -> None:
    """Remember the answer, in one statement committed on its own."""
    with transaction(sessions) as session:
        execute_alone(
            driver_connection(session),
            _STORE_ANSWER,
            {"id": record_id, "status": status, "body": Jsonb(body)},
        )
