"""A voucher's stock in stripes: they always add up to the operator's stock, never below their claims, and
claims drain every stripe before the voucher is sold out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlmodel import col

from infra.db import SessionFactory, transaction
from models.voucher import VoucherStockStripe
from tests.vouchers.support import claimed, make_voucher
from vouchers.admin import update_voucher
from vouchers.claims import claim_voucher
from vouchers.errors import NotClaimable
from vouchers.schemas import VoucherPatch
from vouchers.stock import STRIPES, split_stock


def test_split_spreads_what_is_unclaimed_evenly_and_keeps_every_claim() -> None:
    assert split_stock(35, [0] * 16) == [3, 3, 3] + [2] * 13
    assert split_stock(3, [0] * 16) == [1, 1, 1] + [0] * 13
    assert split_stock(0, [0] * 16) == [0] * 16
    assert split_stock(20, [4, 0, 1, 0]) == [8, 4, 5, 3]
    assert split_stock(5, [4, 0, 1, 0]) == [4, 0, 1, 0]
    with pytest.raises(ValueError, match="below the 5 claims"):
        split_stock(4, [4, 0, 1, 0])


def _stripes(sessions: SessionFactory, voucher_id: uuid.UUID) -> list[tuple[int, int]]:
    with transaction(sessions) as session:
        rows = session.execute(
            select(col(VoucherStockStripe.stock), col(VoucherStockStripe.claimed))
            .where(col(VoucherStockStripe.voucher_id) == voucher_id)
            .order_by(col(VoucherStockStripe.stripe))
        ).all()
    return [(int(stock), int(taken)) for stock, taken in rows]


def _claim(sessions: SessionFactory, voucher_id: uuid.UUID, user: str) -> None:
    with transaction(sessions) as session:
        claim_voucher(session, voucher_id=voucher_id, user_id=user, now=datetime.now(UTC))


def test_claims_drain_every_stripe_then_the_voucher_is_sold_out(sessions: SessionFactory) -> None:
    voucher = make_voucher(sessions, stock=20)
    assert len(_stripes(sessions, voucher.id)) == STRIPES

    for n in range(20):
        _claim(sessions, voucher.id, f"user-{n}")

    assert all(stock == taken for stock, taken in _stripes(sessions, voucher.id))
    with pytest.raises(NotClaimable) as refused:
        _claim(sessions, voucher.id, "one-too-many")
    assert refused.value.code == "sold_out"
    assert claimed(sessions, voucher.id) == 20


def test_a_stock_change_is_spread_over_the_stripes_above_their_claims(sessions: SessionFactory) -> None:
    voucher = make_voucher(sessions, stock=20)
    for n in range(7):
        _claim(sessions, voucher.id, f"user-{n}")
    before = _stripes(sessions, voucher.id)

    with transaction(sessions) as session:
        update_voucher(session, voucher_id=voucher.id, patch=VoucherPatch(stock=50), now=datetime.now(UTC))

    after = _stripes(sessions, voucher.id)
    assert sum(stock for stock, _ in after) == 50
    assert [taken for _, taken in after] == [taken for _, taken in before]
    assert all(stock >= taken for stock, taken in after)
    with transaction(sessions) as session:
        update_voucher(session, voucher_id=voucher.id, patch=VoucherPatch(stock=7), now=datetime.now(UTC))
    assert _stripes(sessions, voucher.id) == [(taken, taken) for _, taken in after]
    with pytest.raises(NotClaimable):
        _claim(sessions, voucher.id, "after-the-cut")
