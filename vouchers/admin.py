"""Operator configuration: create, edit (drafts freely, enabled vouchers only in safe fields), read."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from models.catalog import Product
from models.voucher import Voucher, VoucherStatus, VoucherType
from vouchers.definition import SAFE_FIELDS, check_definition
from vouchers.errors import FieldProblem, InvalidVoucher, VoucherConflict, VoucherNotFound
from vouchers.schemas import MAX_DURATION_PERIODS, VoucherCreate, VoucherDefinition, VoucherPatch
from vouchers.stock import StockBelowClaims, add_stripes, restock
from vouchers.transitions import locked_voucher

# PATCH may send null only where null means something.
NULLABLE_FIELDS = frozenset({"currency"})


def _products(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Product]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    return {p.id: p for p in session.scalars(select(Product).where(col(Product.id).in_(wanted)))}


def create_voucher(session: Session, *, request: VoucherCreate, now: datetime) -> Voucher:
    definition = request.resolved()
    check_definition(definition, _products(session, definition.product_ids), now=now)
    voucher = Voucher.model_validate({**definition.model_dump(), "created_at": now, "updated_at": now})
    session.add(voucher)
    session.flush()
    add_stripes(session, voucher_id=voucher.id, stock=voucher.stock)
    return voucher


def _changes(voucher: Voucher, patch: VoucherPatch) -> dict[str, object]:
    sent = patch.model_dump(exclude_unset=True)
    nulls = [
        FieldProblem(field, "null_not_allowed", f"{field} cannot be null")
        for field, value in sent.items()
        if value is None and field not in NULLABLE_FIELDS
    ]
    if nulls:
        raise InvalidVoucher(nulls)
    if voucher.status is VoucherStatus.TERMINATED:
        raise VoucherConflict("voucher_terminated", "a terminated voucher cannot be changed")
    current = voucher.model_dump()
    changed = {field: value for field, value in sent.items() if value != current.get(field)}
    locked = sorted(set(changed) - SAFE_FIELDS)
    if voucher.status is not VoucherStatus.DRAFT and locked:
        raise VoucherConflict(
            "fields_locked",
            f"once enabled only {', '.join(sorted(SAFE_FIELDS))} may change; not {', '.join(locked)}",
        )
    return changed


def update_voucher(session: Session, *, voucher_id: uuid.UUID, patch: VoucherPatch, now: datetime) -> Voucher:
    """Apply the fields sent. The row lock is taken first (claims key-share-lock it), so a stock cut and a
    claim cannot cross: the stock never drops below the claims already made."""
    voucher = locked_voucher(session, voucher_id)
    changes = _changes(voucher, patch)
    if not changes:
        return voucher
    merged = {**VoucherDefinition.model_validate(voucher, from_attributes=True).model_dump(), **changes}
    if merged["type"] is VoucherType.FREE_PERIODS and "duration_periods" not in changes:
        merged["duration_periods"] = min(merged["value"], MAX_DURATION_PERIODS)
    definition = VoucherDefinition.model_validate(merged)
    check_definition(definition, _products(session, definition.product_ids), now=now)
    if "stock" in changes:
        try:
            restock(session, voucher_id=voucher_id, stock=definition.stock)
        except StockBelowClaims as below:
            raise InvalidVoucher([FieldProblem("stock", "stock_below_claimed", str(below))]) from None
    for field, value in definition.model_dump().items():
        setattr(voucher, field, value)
    voucher.updated_at = now
    session.add(voucher)
    session.flush()
    return voucher


def get_voucher(session: Session, *, voucher_id: uuid.UUID) -> Voucher:
    voucher = session.get(Voucher, voucher_id, populate_existing=True)
    if voucher is None:
        raise VoucherNotFound()
    return voucher


def list_vouchers(
    session: Session, *, status: VoucherStatus | None = None, limit: int = 100, offset: int = 0
) -> list[Voucher]:
    statement = (
        select(Voucher).order_by(col(Voucher.created_at).desc(), col(Voucher.id)).limit(limit).offset(offset)
    )
    if status is not None:
        statement = statement.where(col(Voucher.status) == status)
    return list(session.scalars(statement))
