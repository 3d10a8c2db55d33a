"""The voucher's node transitions: draft -> scheduled | enabled -> terminated, and claim expiry.

Each takes the voucher row lock before checking, so a transition never interleaves with a claim or an
operator edit; each is idempotent, because the lifecycle workflow's activities retry."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlmodel import Session, col

from models.voucher import ClaimStatus, Voucher, VoucherClaim, VoucherStatus
from vouchers.errors import VoucherConflict, VoucherNotFound


def locked_voucher(session: Session, voucher_id: uuid.UUID) -> Voucher:
    statement = (
        select(Voucher)
        .where(col(Voucher.id) == voucher_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    voucher = session.scalars(statement).one_or_none()
    if voucher is None:
        raise VoucherNotFound()
    return voucher


def enable_voucher(session: Session, *, voucher_id: uuid.UUID, now: datetime) -> Voucher:
    """Enabled now, or scheduled for its claim window's start; already enabled or scheduled: unchanged."""
    voucher = locked_voucher(session, voucher_id)
    if voucher.status is VoucherStatus.TERMINATED:
        raise VoucherConflict("voucher_terminated", "a terminated voucher cannot be enabled again")
    if voucher.status is not VoucherStatus.DRAFT:
        return voucher
    if now >= voucher.claim_ends_at:
        raise VoucherConflict("claim_window_ended", "the claim window is over: nobody could claim it")
    voucher.status = VoucherStatus.SCHEDULED if now < voucher.claim_starts_at else VoucherStatus.ENABLED
    voucher.enabled_at = now
    voucher.updated_at = now
    session.add(voucher)
    session.flush()
    return voucher


def open_claim_window(session: Session, *, voucher_id: uuid.UUID, now: datetime) -> Voucher:
    """A scheduled voucher whose claim window has started becomes enabled."""
    voucher = locked_voucher(session, voucher_id)
    if voucher.status is VoucherStatus.SCHEDULED and now >= voucher.claim_starts_at:
        voucher.status = VoucherStatus.ENABLED
        voucher.updated_at = now
        session.add(voucher)
        session.flush()
    return voucher


def expire_claims(session: Session, *, voucher_id: uuid.UUID, now: datetime) -> int:
    """Unused, unreserved claims expire once the use window is over or the voucher is terminated.

    Reserved claims are left to their subscription: its first charge uses them, or its failure releases
    them (expired by then). Counters do not change: an expired claim was still claimed."""
    over = exists().where(
        col(Voucher.id) == voucher_id,
        (col(Voucher.use_ends_at) <= now) | (col(Voucher.status) == VoucherStatus.TERMINATED),
    )
    result = session.execute(
        update(VoucherClaim)
        .where(
            col(VoucherClaim.voucher_id) == voucher_id,
            col(VoucherClaim.status) == ClaimStatus.CLAIMED,
            col(VoucherClaim.contract_id).is_(None),
            over,
        )
        .values(status=ClaimStatus.EXPIRED, expired_at=now)
        .returning(col(VoucherClaim.id))
    )
    return len(result.all())


def terminate_voucher(session: Session, *, voucher_id: uuid.UUID, now: datetime, reason: str) -> Voucher:
    """Nobody can claim it any more and its unused claims expire; terminating twice changes nothing."""
    voucher = locked_voucher(session, voucher_id)
    if voucher.status is not VoucherStatus.TERMINATED:
        voucher.status = VoucherStatus.TERMINATED
        voucher.terminated_at = now
        voucher.termination_reason = reason
        voucher.updated_at = now
        session.add(voucher)
        session.flush()
    expire_claims(session, voucher_id=voucher_id, now=now)
    return voucher
