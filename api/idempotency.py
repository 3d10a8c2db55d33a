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

from fastapi import Header
from pydantic import BaseModel
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from api.problems import IDEMPOTENCY_KEY_REUSED
from infra.db import SessionFactory, transaction
from models.idempotency import IdempotencyRecord

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

    @classmethod
    def of(cls, record: IdempotencyRecord) -> Reservation:
        return cls(record.id, record.resource_id, record.response_status, dict(record.response_body))


def request_hash(body: BaseModel) -> str:
    """sha256 of the body after parsing (defaults filled, keys sorted): formatting does not matter."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _matching(record: IdempotencyRecord, digest: str) -> Reservation:
    if record.request_hash != digest:
        raise IDEMPOTENCY_KEY_REUSED(
            "this Idempotency-Key was already used with a different request body",
            field=HEADER,
            code="idempotency_key_reused",
        )
    return Reservation.of(record)


def find(session: Session, *, scope: str, user_id: str, key: str, digest: str) -> Reservation | None:
    """The earlier reservation of this key, or None; a different body under the same key is refused."""
    record = session.exec(
        select(IdempotencyRecord).where(
            col(IdempotencyRecord.scope) == scope,
            col(IdempotencyRecord.user_id) == user_id,
            col(IdempotencyRecord.key) == key,
        )
    ).first()
    return None if record is None else _matching(record, digest)


def reserve(
    session: Session, *, scope: str, user_id: str, key: str, digest: str, resource_id: str
) -> Reservation:
    """Reserve the key for a new resource, or return the reservation a concurrent request made first.
    The caller commits: only then does a concurrent twin see the key taken."""
    inserted = session.execute(
        insert(IdempotencyRecord)
        .values(
            id=uuid.uuid4(),
            scope=scope,
            user_id=user_id,
            key=key,
            request_hash=digest,
            resource_id=resource_id,
            response_body={},
        )
        .on_conflict_do_nothing(constraint="uq_idempotency_scope_user_key")
        .returning(col(IdempotencyRecord.id))
    ).first()
    if inserted is not None:
        return Reservation(inserted[0], resource_id, None, {})
    # The conflicting row is committed (ON CONFLICT waited for it), and this statement's snapshot sees it.
    earlier = find(session, scope=scope, user_id=user_id, key=key, digest=digest)
    assert earlier is not None
    return earlier


def store_answer(
    sessions: SessionFactory, *, record_id: uuid.UUID, status: int, body: dict[str, Any]
) -> None:
    """Remember the answer; the first stored answer wins (a concurrent duplicate computed the same)."""
    with transaction(sessions) as session:
        session.execute(
            update(IdempotencyRecord)
            .where(col(IdempotencyRecord.id) == record_id, col(IdempotencyRecord.response_status).is_(None))
            .values(response_status=status, response_body=body)
        )
