"""Exactness under concurrency (issue 4 section 3), over real PostgreSQL connections, one per thread.

The figures are printed, never asserted: this machine is shared."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select, update
from sqlmodel import Session, col

from infra.db import SessionFactory, make_engine, transaction
from models.voucher import ClaimStatus, VoucherClaim, VoucherStockStripe
from tests.support.factories import make_product
from tests.vouchers.concurrent import Burst, burst
from tests.vouchers.support import claimed, make_voucher, reload
from vouchers.audit import counter_drift
from vouchers.claims import IdempotentRequest, claim_voucher
from vouchers.redemption import mark_used, reserve_claim
from vouchers.stock import STRIPES
from vouchers.transitions import terminate_voucher

THREADS = 32
TERMINATE = "<terminate>"


@pytest.fixture
def wide_engine(database_url_for_test: str) -> Iterator[Engine]:
    engine = make_engine(database_url_for_test, pool_size=THREADS)
    yield engine
    engine.dispose()


def report(capsys: pytest.CaptureFixture[str], title: str, result: Burst) -> None:
    with capsys.disabled():
        print(
            f"\n[vouchers] {title}: {sum(result.outcomes.values())} calls in {result.elapsed:.2f} s "
            f"= {result.per_second:,.0f}/s over {THREADS} connections; {dict(result.outcomes)}"
        )


def test_1000_claims_from_300_users_at_stock_100_make_exactly_100(
    sessions: SessionFactory, wide_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    voucher = make_voucher(sessions, stock=100, per_user_limit=1)
    users = [f"user-{i % 300}" for i in range(1000)]
    random.Random(4).shuffle(users)
    now = datetime.now(UTC)

    def claim(session: Session, user: str) -> None:
        claim_voucher(
            session,
            voucher_id=voucher.id,
            user_id=user,
            now=now,
            idempotency=IdempotentRequest(str(uuid.uuid4()), "claim"),
        )

    result = burst(wide_engine, threads=THREADS, items=users, call=claim)
    report(capsys, "1,000 claims, 300 users, stock 100, limit 1", result)

    assert result.outcomes["ok"] == 100
    assert set(result.outcomes) <= {"ok", "sold_out", "per_user_limit_reached"}, result.outcomes
    with transaction(sessions) as session:
        per_user = select(col(VoucherClaim.user_id), func.count()).group_by(col(VoucherClaim.user_id))
        holders = session.execute(per_user).all()
        assert len(holders) == 100 and all(count == 1 for _, count in holders)
        assert counter_drift(session) == []
    assert claimed(sessions, voucher.id) == 100


def test_concurrent_redemptions_of_one_claim_have_one_winner(
    sessions: SessionFactory, wide_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    product = make_product(sessions)
    voucher = make_voucher(sessions)
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        claim_id = claim_voucher(session, voucher_id=voucher.id, user_id="alice", now=now).claim.id
    contracts = [uuid.uuid4() for _ in range(200)]

    def reserve(session: Session, contract: uuid.UUID) -> None:
        reserve_claim(
            session, claim_id=claim_id, user_id="alice", product_id=product, contract_id=contract, now=now
        )

    reserved = burst(wide_engine, threads=THREADS, items=contracts, call=reserve)
    report(capsys, "200 subscriptions reserving one claim", reserved)
    assert reserved.outcomes == {"ok": 1, "claim_reserved": 199}
    with transaction(sessions) as session:
        winner = session.get(VoucherClaim, claim_id)
        assert winner is not None and winner.contract_id in contracts

        def use(session: Session, _: int) -> None:
            assert winner is not None and winner.contract_id is not None
            mark_used(session, claim_id=claim_id, contract_id=winner.contract_id, now=now)

    used = burst(wide_engine, threads=THREADS, items=range(200), call=use)
    report(capsys, "200 concurrent mark_used of that claim", used)
    assert used.outcomes == {"ok": 200}
    with transaction(sessions) as session:
        claim = session.get(VoucherClaim, claim_id)
        assert claim is not None and claim.status is ClaimStatus.USED
        assert counter_drift(session) == []
    assert reload(sessions, voucher.id).redeemed_count == 1


@pytest.mark.slow
def test_claim_throughput_against_a_raw_conditional_update(
    sessions: SessionFactory, wide_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """DESIGN.md section 7's ratio, for information: full claims against the bare
    `UPDATE ... WHERE claimed < stock` on one hot row (one stripe of a second voucher)."""
    calls = 600
    hot = make_voucher(sessions, stock=calls)
    raw = make_voucher(sessions, stock=calls * STRIPES)
    now = datetime.now(UTC)
    stripe = VoucherStockStripe

    def bare(session: Session, _: int) -> None:
        session.execute(
            update(stripe)
            .where(
                col(stripe.voucher_id) == raw.id,
                col(stripe.stripe) == 0,
                col(stripe.claimed) < col(stripe.stock),
            )
            .values(claimed=col(stripe.claimed) + 1)
        )

    def claim(session: Session, user: str) -> None:
        claim_voucher(session, voucher_id=hot.id, user_id=user, now=now)

    baseline = burst(wide_engine, threads=THREADS, items=range(calls), call=bare)
    full = burst(wide_engine, threads=THREADS, items=[f"u{i}" for i in range(calls)], call=claim)
    report(capsys, "raw conditional UPDATE", baseline)
    report(capsys, "full claims (distinct users)", full)
    with capsys.disabled():
        print(f"[vouchers] claims/s / raw UPDATE/s = {full.per_second / baseline.per_second:.2f}")
    assert full.outcomes == {"ok": calls}
    assert claimed(sessions, hot.id) == calls
    with transaction(sessions) as session:
        assert counter_drift(session) == [] or all(d.voucher_id == raw.id for d in counter_drift(session))


def test_no_claim_slips_past_a_termination(
    sessions: SessionFactory, wide_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """Claims key-share-lock the voucher row and a termination locks it FOR UPDATE: claims in flight finish
    before the termination expires the unused claims, and claims after it are refused. None stays
    claimable."""
    voucher = make_voucher(sessions, stock=1000)
    items = [f"user-{n}" for n in range(400)]
    items.insert(150, TERMINATE)
    now = datetime.now(UTC)

    def claim_or_terminate(session: Session, item: str) -> None:
        if item == TERMINATE:
            terminate_voucher(session, voucher_id=voucher.id, now=now, reason="race")
        else:
            claim_voucher(session, voucher_id=voucher.id, user_id=item, now=now)

    result = burst(wide_engine, threads=THREADS, items=items, call=claim_or_terminate)
    report(capsys, "400 claims racing one termination", result)

    assert set(result.outcomes) <= {"ok", "voucher_terminated"}, result.outcomes
    with transaction(sessions) as session:
        statuses = session.scalars(
            select(col(VoucherClaim.status)).where(col(VoucherClaim.voucher_id) == voucher.id)
        ).all()
        assert len(statuses) == result.outcomes["ok"] - 1  # less the termination itself
        assert set(statuses) <= {ClaimStatus.EXPIRED}
        assert counter_drift(session) == []
