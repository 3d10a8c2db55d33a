"""Claiming a voucher, exactly: both caps are enforced by conditional writes, never check-then-act.

A claim is one call of the `claim_voucher` database function (migrations 0004 and 0006), one round trip
(two when every stripe with stock left is held by other claims at that moment):
1. the Idempotency-Key is reserved (a replay returns the first claim and writes nothing);
2. the voucher row is key-share-locked while claimable (enabled, in the claim window, in the audience):
   every state or stock change locks it FOR UPDATE, so it waits for claims in flight and claims after it
   see the new row;
3. the user's holding is upserted only while under the per-user limit (locking that user's row);
4. the claim row is written, and last one stock stripe with stock left is taken (vouchers.stock): any stripe
   no other claim holds; when every one is held, the call is undone and made again, and that call waits
   for the first stripe to come free. No claim waits on a single hot row.
Under READ COMMITTED each conditional write re-checks its condition on the newest row version after
waiting for a lock, so concurrent claims never overshoot. A refusal raises inside the function, which
undoes everything it wrote; the refusal is then explained from the newest committed state.

`claimable_now` states the same voucher-side conditions for SQLAlchemy queries (offers): keep both in step."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlmodel import Session, col

from events import vouchers as voucher_events
from infra.db import driver_connection, execute_alone
from infra.metrics import VOUCHER_CLAIMS, after_commit
from models.voucher import ClaimStatus, Voucher, VoucherClaim, VoucherHolding, VoucherStatus
from vouchers.errors import IdempotencyKeyReused, NotClaimable, VoucherNotFound
from vouchers.rules import claim_refusal
from vouchers.stock import claimed_total, has_stock_left

IDEMPOTENCY_SCOPE = "voucher_claims"


def claimable_now(*, user_id: str, now: datetime) -> ColumnElement[bool]:
    """The voucher-side conditions of a claim, as SQL: enabled, in the claim window, stock left, audience."""
    return and_(
        col(Voucher.status) == VoucherStatus.ENABLED,
        col(Voucher.claim_starts_at) <= now,
        col(Voucher.claim_ends_at) > now,
        has_stock_left(),
        or_(func.cardinality(col(Voucher.audience)) == 0, col(Voucher.audience).any_() == user_id),
    )


def _voucher(session: Session, voucher_id: uuid.UUID) -> Voucher:
    voucher = session.get(Voucher, voucher_id)
    if voucher is None:
        raise VoucherNotFound()
    return voucher


def _standing(session: Session, voucher_id: uuid.UUID, user_id: str) -> tuple[Voucher | None, int, int]:
    """The voucher, the user's claims on it and all claims on its stock, in one read."""
    statement = (
        select(Voucher, func.coalesce(col(VoucherHolding.claims_count), 0), claimed_total())
        .outerjoin(
            VoucherHolding,
            (col(VoucherHolding.voucher_id) == col(Voucher.id)) & (col(VoucherHolding.user_id) == user_id),
        )
        .where(col(Voucher.id) == voucher_id)
        .execution_options(populate_existing=True)
    )
    row = session.execute(statement).first()
    return (row[0], int(row[1]), int(row[2])) if row else (None, 0, 0)


@dataclass(frozen=True)
class Claimed:
    """A claim and its voucher as the claim left it. A new claim's objects are built from the statement's
    row on first use, normally after the commit: the hot voucher row is not locked while Python works."""

    created: bool  # False: an Idempotency-Key replay
    _build: Callable[[], tuple[VoucherClaim, Voucher]]

    @cached_property
    def _objects(self) -> tuple[VoucherClaim, Voucher]:
        return self._build()

    @property
    def claim(self) -> VoucherClaim:
        return self._objects[0]

    @property
    def voucher(self) -> Voucher:
        return self._objects[1]


@dataclass(frozen=True)
class IdempotentRequest:
    """The client's Idempotency-Key and a hash of what it asked for (the API computes both)."""

    key: str
    request_hash: str


# Raised by the function for every refusal; the reason is then read from the committed state.
REFUSED = "VC001"
# Raised by a call that would have to wait for a stripe: undone whole, it is made again to wait.
EVERY_STRIPE_TAKEN = "VC002"

# The `voucher.claimed` event is written by the claim's own statement: a refusal, which raises inside the
# function, writes neither, and a replay (the function returns the earlier claim) writes no event.
_CLAIM = """
WITH claimed AS (
    SELECT replayed_claim_id, replayed_request_hash, voucher
    FROM claim_voucher(%(voucher_id)s, %(user_id)s, %(claim_id)s, %(now)s,
                       %(scope)s, %(key)s, %(request_hash)s, %(record_id)s, %(wait)s)
), outbox AS (
    INSERT INTO events (id, type, voucher_id, user_id, data)
    SELECT %(event_id)s, %(event_type)s, %(voucher_id)s, %(user_id)s, %(event_data)s
    FROM claimed WHERE replayed_claim_id IS NULL
    ON CONFLICT (id) DO NOTHING
)
SELECT replayed_claim_id, replayed_request_hash, voucher FROM claimed
"""


def _refusal(session: Session, *, voucher_id: uuid.UUID, user_id: str, now: datetime) -> Exception:
    """Why the claim was refused, read after the rollback from the newest committed state."""
    session.rollback()
    voucher, held, claimed = _standing(session, voucher_id, user_id)
    refusal = claim_refusal(voucher, user_id=user_id, claims_held=held, claimed=claimed, now=now)
    return refusal or NotClaimable("not_claimable", "the voucher cannot be claimed right now")


def _replay(
    session: Session, *, request: IdempotentRequest, claim_id: str, request_hash: str | None
) -> Claimed:
    """The claim an earlier request with this Idempotency-Key made (the function wrote nothing)."""
    if request_hash != request.request_hash:
        raise IdempotencyKeyReused()
    claim = session.get(VoucherClaim, uuid.UUID(claim_id))
    assert claim is not None, "an idempotency record is committed with its claim"
    voucher = _voucher(session, claim.voucher_id)
    return Claimed(created=False, _build=lambda: (claim, voucher))


def claim_voucher(
    session: Session,
    *,
    voucher_id: uuid.UUID,
    user_id: str,
    now: datetime,
    idempotency: IdempotentRequest | None = None,
) -> Claimed:
    """Claim one voucher for the user.

    As the session's first statement (the API's case) the claim is a transaction of its own, committed as
    the call ends; after other work it joins the session's transaction, which the caller commits.
    Raises VoucherNotFound, NotClaimable or IdempotencyKeyReused with nothing of the claim written; a
    refusal rolls the session's transaction back."""
    claim_id = uuid.uuid4()
    event = voucher_events.claimed(claim_id=claim_id, claimed_at=now)
    params: dict[str, Any] = {
        "voucher_id": voucher_id,
        "user_id": user_id,
        "claim_id": claim_id,
        "now": now,
        "scope": IDEMPOTENCY_SCOPE,
        "key": idempotency.key if idempotency else None,
        "request_hash": idempotency.request_hash if idempotency else None,
        "record_id": uuid.uuid4(),
        "event_id": event.id,
        "event_type": event.type.value,
        "event_data": event.json(),
    }
    try:
        row = _claim_row(driver_connection(session), params)
    except psycopg.Error as error:
        if error.sqlstate != REFUSED:
            raise
        raise _refusal(session, voucher_id=voucher_id, user_id=user_id, now=now) from None
    assert row is not None, "claim_voucher returns one row or raises"
    replayed_claim_id, replayed_hash, voucher_fields = row
    if replayed_claim_id is not None:
        assert idempotency is not None, "only a keyed claim can be a replay"
        return _replay(session, request=idempotency, claim_id=replayed_claim_id, request_hash=replayed_hash)

    after_commit(session, VOUCHER_CLAIMS.inc)

    def build() -> tuple[VoucherClaim, Voucher]:
        claim = VoucherClaim(
            id=claim_id, voucher_id=voucher_id, user_id=user_id, status=ClaimStatus.CLAIMED, claimed_at=now
        )
        return claim, Voucher.model_validate(voucher_fields)

    return Claimed(created=True, _build=build)


def _claim_row(connection: psycopg.Connection[Any], params: dict[str, Any]) -> Any:
    """The function's row. Alone, the call first takes a free stripe or is undone whole (locks included)
    and made again to wait for one; inside the caller's transaction, which cannot be undone in part, it
    waits at once."""
    if connection.info.transaction_status is TransactionStatus.IDLE:
        try:
            return execute_alone(connection, _CLAIM, {**params, "wait": False}).fetchone()
        except psycopg.Error as error:
            if error.sqlstate != EVERY_STRIPE_TAKEN:
                raise
    return execute_alone(connection, _CLAIM, {**params, "wait": True}).fetchone()


def claims_of(session: Session, *, user_id: str) -> list[tuple[VoucherClaim, Voucher]]:
    statement = (
        select(VoucherClaim, Voucher)
        .join(Voucher, col(Voucher.id) == col(VoucherClaim.voucher_id))
        .where(col(VoucherClaim.user_id) == user_id)
        .order_by(col(VoucherClaim.claimed_at).desc())
    )
    return [(claim, voucher) for claim, voucher in session.execute(statement)]
