"""Claiming a voucher, exactly: both caps are enforced by one conditional statement, never check-then-act.

A claim is one transaction of at most two statements, in plain SQL (this is the hottest write there is):
1. the Idempotency-Key is reserved (a replay returns the first claim);
2. one statement does the claim: the user's holding is upserted only while under the per-user limit
   (locking that user's row), the claim row is inserted, and last the voucher's claimed_count is raised
   only while claimable and under stock (locking the hot voucher row, from here to the commit).
Under READ COMMITTED each conditional write re-checks its condition on the newest row version after
waiting for a lock, so concurrent claims serialize on the rows and never overshoot. Nothing is read first:
the hot row is locked for the statement and the commit only. When the statement claims nothing, its
partial work is rolled back and the refusal is explained from the newest committed state.

`claimable_now` states the same voucher-side conditions for SQLAlchemy queries (offers): keep both in step."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlmodel import Session, col

from infra.db import driver_connection
from models.idempotency import IdempotencyRecord
from models.voucher import ClaimStatus, Voucher, VoucherClaim, VoucherHolding, VoucherStatus
from vouchers.errors import IdempotencyKeyReused, NotClaimable, VoucherNotFound
from vouchers.rules import claim_refusal

IDEMPOTENCY_SCOPE = "voucher_claims"


def claimable_now(*, user_id: str, now: datetime) -> ColumnElement[bool]:
    """The voucher-side conditions of a claim, as SQL: enabled, in the claim window, stock left, audience."""
    return and_(
        col(Voucher.status) == VoucherStatus.ENABLED,
        col(Voucher.claim_starts_at) <= now,
        col(Voucher.claim_ends_at) > now,
        col(Voucher.claimed_count) < col(Voucher.stock),
        or_(func.cardinality(col(Voucher.audience)) == 0, col(Voucher.audience).any_() == user_id),
    )


def _voucher(session: Session, voucher_id: uuid.UUID) -> Voucher:
    voucher = session.get(Voucher, voucher_id)
    if voucher is None:
        raise VoucherNotFound()
    return voucher


def _voucher_and_holding(session: Session, voucher_id: uuid.UUID, user_id: str) -> tuple[Voucher | None, int]:
    statement = (
        select(Voucher, func.coalesce(col(VoucherHolding.claims_count), 0))
        .outerjoin(
            VoucherHolding,
            (col(VoucherHolding.voucher_id) == col(Voucher.id)) & (col(VoucherHolding.user_id) == user_id),
        )
        .where(col(Voucher.id) == voucher_id)
        .execution_options(populate_existing=True)
    )
    row = session.execute(statement).first()
    return (row[0], int(row[1])) if row else (None, 0)


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


_RESERVE_KEY = """
INSERT INTO idempotency_records
    (id, scope, user_id, key, request_hash, resource_id, response_status, response_body)
VALUES (%(id)s, %(scope)s, %(user_id)s, %(key)s, %(hash)s, %(claim_id)s, 201, %(body)s)
ON CONFLICT ON CONSTRAINT uq_idempotency_scope_user_key DO NOTHING
RETURNING id
"""

# Ordered by reference: the holding (per-user limit, locking the user's row), then the claim row, and last
# the hot voucher row, so that row is locked only for the end of the statement and the commit. An unknown
# voucher yields no holding (no error here); a refused bump leaves the first two for the rollback.
_CLAIM = """
WITH held AS (
    INSERT INTO voucher_holdings (voucher_id, user_id, claims_count)
    SELECT id, %(user_id)s, 1 FROM vouchers WHERE id = %(voucher_id)s
    ON CONFLICT (voucher_id, user_id) DO UPDATE SET claims_count = voucher_holdings.claims_count + 1
    WHERE voucher_holdings.claims_count
          < (SELECT per_user_limit FROM vouchers WHERE id = %(voucher_id)s)
    RETURNING voucher_id
), claimed AS (
    INSERT INTO voucher_claims (id, voucher_id, user_id, status, claimed_at)
    SELECT %(claim_id)s, voucher_id, %(user_id)s, 'claimed', %(now)s FROM held
    RETURNING id
)
UPDATE vouchers SET claimed_count = claimed_count + 1, updated_at = %(now)s
WHERE id = %(voucher_id)s AND status = 'enabled'
  AND claim_starts_at <= %(now)s AND claim_ends_at > %(now)s
  AND claimed_count < stock
  AND (cardinality(audience) = 0 OR %(user_id)s = ANY(audience))
  AND EXISTS (SELECT 1 FROM claimed)
RETURNING *
"""


def _replayed_claim(
    session: Session, *, request: IdempotentRequest, user_id: str, claim_id: uuid.UUID
) -> VoucherClaim | None:
    """Reserve the key for `claim_id`, in the claim's own transaction (both commit or neither does); if an
    earlier claim holds the key, return that claim. A concurrent twin waits on the key's unique index."""
    reserved = (
        driver_connection(session)
        .execute(
            _RESERVE_KEY,
            {
                "id": uuid.uuid4(),
                "scope": IDEMPOTENCY_SCOPE,
                "user_id": user_id,
                "key": request.key,
                "hash": request.request_hash,
                "claim_id": str(claim_id),
                "body": Jsonb({"claim_id": str(claim_id)}),
            },
        )
        .fetchone()
    )
    if reserved is not None:
        return None
    record = session.scalars(
        select(IdempotencyRecord).where(
            col(IdempotencyRecord.scope) == IDEMPOTENCY_SCOPE,
            col(IdempotencyRecord.user_id) == user_id,
            col(IdempotencyRecord.key) == request.key,
        )
    ).one()
    if record.request_hash != request.request_hash:
        raise IdempotencyKeyReused()
    claim = session.get(VoucherClaim, uuid.UUID(record.resource_id))
    assert claim is not None, "an idempotency record is committed with its claim"
    return claim


def claim_voucher(
    session: Session,
    *,
    voucher_id: uuid.UUID,
    user_id: str,
    now: datetime,
    idempotency: IdempotentRequest | None = None,
) -> Claimed:
    """Claim one voucher for the user.

    Raises VoucherNotFound, NotClaimable or IdempotencyKeyReused; the caller must then roll back."""
    claim_id = uuid.uuid4()
    if idempotency is not None:
        replayed = _replayed_claim(session, request=idempotency, user_id=user_id, claim_id=claim_id)
        if replayed is not None:
            first = _voucher(session, replayed.voucher_id)
            return Claimed(created=False, _build=lambda: (replayed, first))
    row = (
        driver_connection(session)
        .cursor(row_factory=dict_row)
        .execute(_CLAIM, {"voucher_id": voucher_id, "user_id": user_id, "claim_id": claim_id, "now": now})
        .fetchone()
    )
    if row is None:
        # Refused, or lost a race for the last items: undo the holding, explain with the newest state.
        session.rollback()
        voucher, held = _voucher_and_holding(session, voucher_id, user_id)
        raise claim_refusal(voucher, user_id=user_id, claims_held=held, now=now) or NotClaimable(
            "not_claimable", "the voucher cannot be claimed right now"
        )

    def build() -> tuple[VoucherClaim, Voucher]:
        claim = VoucherClaim(
            id=claim_id, voucher_id=voucher_id, user_id=user_id, status=ClaimStatus.CLAIMED, claimed_at=now
        )
        return claim, Voucher.model_validate(row)

    return Claimed(created=True, _build=build)


def claims_of(session: Session, *, user_id: str) -> list[tuple[VoucherClaim, Voucher]]:
    statement = (
        select(VoucherClaim, Voucher)
        .join(Voucher, col(Voucher.id) == col(VoucherClaim.voucher_id))
        .where(col(VoucherClaim.user_id) == user_id)
        .order_by(col(VoucherClaim.claimed_at).desc())
    )
    return [(claim, voucher) for claim, voucher in session.execute(statement)]
