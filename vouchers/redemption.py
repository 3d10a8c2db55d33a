"""Redeeming a claim against a subscription, called inside the signing and settlement activities'
transactions. Every function is idempotent (activities retry) and race-free: the claim row is locked
before it is checked, or changed by one conditional statement together with the voucher's counter.

    check_claim_usable   signup API, before a workflow starts (no lock, no write)
    reserve_claim        signing: the claim is held for the contract (it stays `claimed`)
    discount_for_period  pricing a period's charge plan
    mark_used            a covered charge succeeded: `used`, redeemed_count + 1, exactly once
    release_claim        signing or the first charge failed for good: back to the user, unchanged"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, DateTime, case, func, literal, select, update
from sqlmodel import Session, col

from events import vouchers as voucher_events
from events.outbox import write_voucher_event
from infra.db import driver_connection
from infra.metrics import VOUCHER_REDEMPTIONS, VOUCHER_RELEASES, after_commit
from models.catalog import Product
from models.voucher import ClaimStatus, Voucher, VoucherClaim, VoucherStatus
from vouchers.errors import VoucherNotUsable
from vouchers.rules import discount_minor, usability_problem

__all__ = [
    "VoucherNotUsable",
    "check_claim_usable",
    "discount_for_period",
    "mark_used",
    "release_claim",
    "reserve_claim",
]


def _claim_and_voucher(
    session: Session, claim_id: uuid.UUID, *, lock: bool = False
) -> tuple[VoucherClaim, Voucher] | None:
    statement = (
        select(VoucherClaim, Voucher)
        .join(Voucher, col(Voucher.id) == col(VoucherClaim.voucher_id))
        .where(col(VoucherClaim.id) == claim_id)
        .execution_options(populate_existing=True)
    )
    if lock:
        # Only the claim row: the voucher row is the hot one claims contend for.
        statement = statement.with_for_update(of=VoucherClaim)
    row = session.execute(statement).first()
    return (row[0], row[1]) if row else None


def _check(
    session: Session,
    found: tuple[VoucherClaim, Voucher] | None,
    *,
    user_id: str,
    product_id: uuid.UUID,
    contract_id: uuid.UUID | None,
    now: datetime,
) -> None:
    if found is None:
        raise VoucherNotUsable("claim_not_found", "no such voucher claim")
    claim, voucher = found
    problem = usability_problem(
        voucher=voucher,
        claim=claim,
        product=session.get(Product, product_id),
        user_id=user_id,
        contract_id=contract_id,
        now=now,
    )
    if problem is not None:
        raise problem


def check_claim_usable(
    session: Session, *, claim_id: uuid.UUID, user_id: str, product_id: uuid.UUID, now: datetime
) -> None:
    """Raise VoucherNotUsable unless the user's claim could pay towards this product now."""
    found = _claim_and_voucher(session, claim_id)
    _check(session, found, user_id=user_id, product_id=product_id, contract_id=None, now=now)


def reserve_claim(
    session: Session,
    *,
    claim_id: uuid.UUID,
    user_id: str,
    product_id: uuid.UUID,
    contract_id: uuid.UUID,
    now: datetime,
) -> None:
    """Hold the claim for the contract. Already held (or used) by this contract: a no-op, whatever the
    time, so a retried signing never fails on its own reservation."""
    found = _claim_and_voucher(session, claim_id, lock=True)
    if found is not None and found[0].contract_id == contract_id and found[0].user_id == user_id:
        return
    _check(session, found, user_id=user_id, product_id=product_id, contract_id=contract_id, now=now)
    session.execute(
        update(VoucherClaim)
        .where(col(VoucherClaim.id) == claim_id)
        .values(contract_id=contract_id, reserved_at=now)
    )


def discount_for_period(
    session: Session, *, claim_id: uuid.UUID, contract_id: uuid.UUID, period: int, gross_minor: int
) -> int:
    """Minor units off this period's gross; 0 outside the voucher's first N periods or when the claim is
    not held by (or used for) this contract."""
    found = _claim_and_voucher(session, claim_id)
    if found is None:
        return 0
    claim, voucher = found
    if claim.contract_id != contract_id or claim.status is ClaimStatus.EXPIRED:
        return 0
    return discount_minor(voucher=voucher, period=period, gross_minor=gross_minor)


def mark_used(session: Session, *, claim_id: uuid.UUID, contract_id: uuid.UUID, now: datetime) -> None:
    """The claim becomes `used` and the voucher's redeemed_count rises, in one statement: a concurrent or
    repeated call finds the claim no longer `claimed` and changes nothing. The `voucher.redeemed` event
    follows in the same transaction, only when the claim changed."""
    used = (
        update(VoucherClaim)
        .where(
            col(VoucherClaim.id) == claim_id,
            col(VoucherClaim.contract_id) == contract_id,
            col(VoucherClaim.status) == ClaimStatus.CLAIMED,
        )
        .values(status=ClaimStatus.USED, used_at=now)
        .returning(col(VoucherClaim.voucher_id), col(VoucherClaim.user_id))
        .cte("used")
    )
    counted = (
        update(Voucher)
        .where(col(Voucher.id).in_(select(used.c.voucher_id)))
        .values(redeemed_count=col(Voucher.redeemed_count) + 1)
        .returning(col(Voucher.id))
        .cte("counted")
    )
    row = session.execute(
        select(used.c.voucher_id, used.c.user_id, select(counted.c.id).scalar_subquery())
    ).first()
    if row is None:
        return
    after_commit(session, VOUCHER_REDEMPTIONS.inc)
    event = voucher_events.redeemed(claim_id=claim_id, contract_id=contract_id, redeemed_at=now)
    write_voucher_event(driver_connection(session), voucher_id=row[0], user_id=row[1], event=event)


def release_claim(
    session: Session, *, claim_id: uuid.UUID, contract_id: uuid.UUID, now: datetime | None = None
) -> None:
    """Give the claim back to its user, unchanged; a no-op unless this contract holds it unused.

    Had it expired meanwhile (use window over, voucher terminated), it comes back expired: expiry skips
    reserved claims so that an in-flight first charge can still use them. `now` defaults to the
    database clock."""
    at: ColumnElement[datetime] = func.now() if now is None else literal(now, DateTime(timezone=True))
    ended = (col(Voucher.status) == VoucherStatus.TERMINATED) | (col(Voucher.use_ends_at) <= at)
    row = session.execute(
        update(VoucherClaim)
        .where(
            col(VoucherClaim.id) == claim_id,
            col(VoucherClaim.contract_id) == contract_id,
            col(VoucherClaim.status) == ClaimStatus.CLAIMED,
            col(Voucher.id) == col(VoucherClaim.voucher_id),
        )
        .values(
            status=case((ended, ClaimStatus.EXPIRED.value), else_=ClaimStatus.CLAIMED.value),
            contract_id=None,
            reserved_at=None,
            expired_at=case((ended, at), else_=None),
        )
        .returning(col(VoucherClaim.voucher_id), col(VoucherClaim.user_id), col(VoucherClaim.status))
    ).first()
    if row is None:
        return
    expired = row[2] == ClaimStatus.EXPIRED
    after_commit(session, VOUCHER_RELEASES.labels(expired=str(expired).lower()).inc)
    event = voucher_events.released(claim_id=claim_id, contract_id=contract_id, expired=expired)
    write_voucher_event(driver_connection(session), voucher_id=row[0], user_id=row[1], event=event)
