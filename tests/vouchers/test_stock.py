"""A voucher's stock in stripes: they always add up to the operator's stock, never below their claims, and
claims drain every stripe before the voucher is sold out."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import select
from sqlmodel import col

from infra.db import SessionFactory, transaction
from models.voucher import VoucherStockStripe
from tests.vouchers.support import claimed, make_voucher
from vouchers.admin import update_voucher
from vouchers.claims import Claimed, claim_voucher
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


def _waiting_on_a_lock(watcher: psycopg.Connection[tuple[object, ...]]) -> bool:
    row = watcher.execute(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%claim_voucher%'"
    ).fetchone()
    return row is not None and row[0] == 1


@pytest.mark.parametrize("in_a_transaction", [False, True], ids=["alone", "in-the-callers-transaction"])
def test_a_claim_finding_every_stripe_taken_waits_for_one_to_come_free(
    sessions: SessionFactory, database_url_for_test: str, in_a_transaction: bool
) -> None:
    """Alone, the first call is undone (VC002) and the second waits; inside a transaction, which a refusal
    would abort, the call waits at once. Either way the claim succeeds once a stripe comes free."""
    voucher = make_voucher(sessions, stock=2)

    def claim() -> Claimed:
        with transaction(sessions) as session:
            if in_a_transaction:
                session.execute(select(1))  # other work first: the claim joins its transaction
            return claim_voucher(session, voucher_id=voucher.id, user_id="patient", now=datetime.now(UTC))

    with (
        psycopg.connect(database_url_for_test) as holder,
        psycopg.connect(database_url_for_test, autocommit=True) as watcher,
        ThreadPoolExecutor(1) as pool,
    ):
        holder.execute("SELECT FROM voucher_stock_stripes WHERE voucher_id = %s FOR UPDATE", (voucher.id,))
        claiming = pool.submit(claim)
        deadline = time.monotonic() + 10
        while not _waiting_on_a_lock(watcher):
            assert time.monotonic() < deadline, "the claim never waited for a stripe"
            assert not claiming.done(), f"the claim ended without waiting: {claiming.exception()}"
            time.sleep(0.01)
        holder.commit()
        made = claiming.result(timeout=10)

    assert made.created and made.claim.user_id == "patient"
    assert claimed(sessions, voucher.id) == 1
    assert _stripes(sessions, voucher.id)[:2] == [(1, 1), (1, 0)]  # the first to come free, in stripe order
