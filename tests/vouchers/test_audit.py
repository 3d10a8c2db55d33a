"""Counters always equal the rows behind them, through every kind of change, and the check notices when
they do not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import update
from sqlmodel import col

from infra.db import SessionFactory, transaction
from models.voucher import Voucher
from tests.support.factories import make_product
from tests.vouchers.support import make_voucher
from vouchers.audit import CounterDrift, counter_drift
from vouchers.claims import claim_voucher
from vouchers.offers import offers_for
from vouchers.redemption import mark_used, release_claim, reserve_claim
from vouchers.stock import claimed_count
from vouchers.transitions import terminate_voucher


def test_every_change_keeps_counters_equal_to_rows_and_drift_is_reported(sessions: SessionFactory) -> None:
    product = make_product(sessions)
    voucher = make_voucher(sessions, stock=10, per_user_limit=2)
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        for user in ("ann", "ben", "cat"):
            offers_for(session, user_id=user, now=now)
        claims = [
            claim_voucher(session, voucher_id=voucher.id, user_id=user, now=now).claim
            for user in ("ann", "ann", "ben", "cat", "dan")
        ]
        used, released = uuid.uuid4(), uuid.uuid4()
        for claim, contract in ((claims[0], used), (claims[2], released)):
            reserve_claim(
                session,
                claim_id=claim.id,
                user_id=claim.user_id,
                product_id=product,
                contract_id=contract,
                now=now,
            )
        mark_used(session, claim_id=claims[0].id, contract_id=used, now=now)
        release_claim(session, claim_id=claims[2].id, contract_id=released, now=now)
        terminate_voucher(session, voucher_id=voucher.id, now=now, reason="audit")
        assert counter_drift(session) == []
        stored = session.get(Voucher, voucher.id)
        assert stored is not None
        assert (stored.pushed_count, claimed_count(session, voucher.id), stored.redeemed_count) == (3, 5, 1)

    with transaction(sessions) as session:
        session.execute(update(Voucher).where(col(Voucher.id) == voucher.id).values(redeemed_count=2))
        assert counter_drift(session) == [CounterDrift(voucher.id, "redeemed_count", 2, 1)]
