"""Claiming a voucher, exactly: both caps are enforced by one conditional statement, never check-then-act.

A claim is one transaction of at most three statements:
1. the Idempotency-Key is reserved (a replay returns the first claim),
2. one read refuses the obvious cases (sold out, closed, over the limit) without taking any lock,
3. one statement does the claim: the user's holding is upserted only while under the per-user limit
   (locking that user's row), then the voucher's claimed_count is raised only while under stock (locking
   the hot voucher row, from here to the commit), then the claim row is inserted.
Under READ COMMITTED each conditional write re-checks its condition on the newest row version after
waiting for a lock, so concurrent claims serialize on the rows and never overshoot. When the statement
claims nothing, the caller's transaction rolls back whatever part of it did happen."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Insert, and_, exists, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

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
    claim: VoucherClaim
    voucher: Voucher  # as read before the claim: its headline, not its newest counters
    created: bool  # False: an Idempotency-Key replay


@dataclass(frozen=True)
class IdempotentRequest:
    """The client's Idempotency-Key and a hash of what it asked for (the API computes both)."""

    key: str
    request_hash: str


def _replayed_claim(
    session: Session, *, request: IdempotentRequest, user_id: str, claim_id: uuid.UUID
) -> VoucherClaim | None:
    """Reserve the key for `claim_id`, in the claim's own transaction (both commit or neither does); if an
    earlier claim holds the key, return that claim. A concurrent twin waits on the key's unique index."""
    reserved = session.execute(
        insert(IdempotencyRecord)
        .values(
            id=uuid.uuid4(),
            scope=IDEMPOTENCY_SCOPE,
            user_id=user_id,
            key=request.key,
            request_hash=request.request_hash,
            resource_id=str(claim_id),
            response_status=201,
            response_body={"claim_id": str(claim_id)},
        )
        .on_conflict_do_nothing(constraint="uq_idempotency_scope_user_key")
        .returning(col(IdempotencyRecord.id))
    ).first()
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


def _claim_statement(*, voucher_id: uuid.UUID, user_id: str, claim_id: uuid.UUID, now: datetime) -> Insert:
    """INSERT the claim only if the holding upsert (per-user limit) and then the voucher update (stock,
    window, state, audience) both took effect. The update's condition refers to the upsert's result, so
    the user's row is locked before the hot voucher row."""
    limit = select(col(Voucher.per_user_limit)).where(col(Voucher.id) == voucher_id).scalar_subquery()
    held = (
        insert(VoucherHolding)
        .values(voucher_id=voucher_id, user_id=user_id, claims_count=1)
        .on_conflict_do_update(
            index_elements=["voucher_id", "user_id"],
            set_={"claims_count": VoucherHolding.claims_count + 1},
            where=col(VoucherHolding.claims_count) < limit,
        )
        .returning(col(VoucherHolding.voucher_id))
        .cte("held")
    )
    bumped = (
        update(Voucher)
        .where(
            col(Voucher.id) == voucher_id,
            claimable_now(user_id=user_id, now=now),
            exists(select(held.c.voucher_id)),
        )
        .values(claimed_count=col(Voucher.claimed_count) + 1, updated_at=now)
        .returning(col(Voucher.id).label("voucher_id"))
        .cte("bumped")
    )
    claims = VoucherClaim.__table__.c  # type: ignore[attr-defined]
    return (
        insert(VoucherClaim)
        .from_select(
            ["id", "voucher_id", "user_id", "status", "claimed_at"],
            select(
                literal(claim_id, claims.id.type),
                bumped.c.voucher_id,
                literal(user_id, claims.user_id.type),
                literal(ClaimStatus.CLAIMED, claims.status.type),
                literal(now, claims.claimed_at.type),
            ),
        )
        .returning(col(VoucherClaim.id))
    )


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
            return Claimed(replayed, _voucher(session, replayed.voucher_id), created=False)
    voucher, held = _voucher_and_holding(session, voucher_id, user_id)
    refusal = claim_refusal(voucher, user_id=user_id, claims_held=held, now=now)
    if refusal is not None or voucher is None:
        raise refusal or VoucherNotFound()
    statement = _claim_statement(voucher_id=voucher_id, user_id=user_id, claim_id=claim_id, now=now)
    if session.execute(statement).first() is None:
        # Lost a race (usually for the last items): explain with the newest committed state.
        voucher, held = _voucher_and_holding(session, voucher_id, user_id)
        raise claim_refusal(voucher, user_id=user_id, claims_held=held, now=now) or NotClaimable(
            "not_claimable", "the voucher cannot be claimed right now"
        )
    # Built, not read back: a read here would hold the hot row's lock for one more round trip.
    claim = VoucherClaim(
        id=claim_id, voucher_id=voucher_id, user_id=user_id, status=ClaimStatus.CLAIMED, claimed_at=now
    )
    return Claimed(claim, voucher, created=True)


def claims_of(session: Session, *, user_id: str) -> list[tuple[VoucherClaim, Voucher]]:
    statement = (
        select(VoucherClaim, Voucher)
        .join(Voucher, col(Voucher.id) == col(VoucherClaim.voucher_id))
        .where(col(VoucherClaim.user_id) == user_id)
        .order_by(col(VoucherClaim.claimed_at).desc())
    )
    return [(claim, voucher) for claim, voucher in session.execute(statement)]
