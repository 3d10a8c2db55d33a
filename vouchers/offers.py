"""The claim pop-up's page data: the vouchers a user may claim now, recording that they were shown."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from models.voucher import Voucher, VoucherHolding, VoucherPush
from vouchers.claims import claimable_now
from vouchers.stock import claimed_total

MAX_OFFERS = 20


@dataclass(frozen=True)
class Offer:
    voucher: Voucher
    claims_left: int  # how many more this user may claim
    claimed: int  # claims on the voucher's stock so far


def offers_for(session: Session, *, user_id: str, now: datetime, limit: int = MAX_OFFERS) -> list[Offer]:
    """Claimable vouchers (enabled, in the claim window, stock left, in the audience, under the per-user
    limit) with how many more the user may take; soonest-closing first. Records the push."""
    held = func.coalesce(col(VoucherHolding.claims_count), 0)
    statement = (
        select(Voucher, (col(Voucher.per_user_limit) - held).label("claims_left"), claimed_total())
        .outerjoin(
            VoucherHolding,
            (col(VoucherHolding.voucher_id) == col(Voucher.id)) & (col(VoucherHolding.user_id) == user_id),
        )
        .where(claimable_now(user_id=user_id, now=now), held < col(Voucher.per_user_limit))
        .order_by(col(Voucher.claim_ends_at), col(Voucher.id))
        .limit(limit)
    )
    offers = [Offer(voucher, int(left), int(taken)) for voucher, left, taken in session.execute(statement)]
    record_pushes(session, voucher_ids=[offer.voucher.id for offer in offers], user_id=user_id, now=now)
    return offers


def record_pushes(session: Session, *, voucher_ids: Sequence[uuid.UUID], user_id: str, now: datetime) -> int:
    """Remember that the user was shown these vouchers; pushed_count rises once per new (voucher, user)
    row, in the same transaction, so it always equals the rows."""
    if not voucher_ids:
        return 0
    inserted = session.execute(
        insert(VoucherPush)
        .values([{"voucher_id": v, "user_id": user_id, "pushed_at": now} for v in voucher_ids])
        .on_conflict_do_nothing(index_elements=["voucher_id", "user_id"])
        .returning(col(VoucherPush.voucher_id))
    )
    new = sorted(inserted.scalars())
    if not new:
        return 0
    # Lock in id order: two users shown the same vouchers at once must not deadlock on them.
    locked = (
        select(col(Voucher.id))
        .where(col(Voucher.id).in_(new))
        .order_by(col(Voucher.id))
        .with_for_update()
        .subquery("locked")
    )
    session.execute(
        update(Voucher)
        .where(col(Voucher.id) == locked.c.id)
        .values(pushed_count=col(Voucher.pushed_count) + 1)
    )
    return len(new)
