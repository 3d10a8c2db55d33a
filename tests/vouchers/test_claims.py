"""Claiming on real PostgreSQL: caps, windows, audience, Idempotency-Key, offers and pushes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from infra.db import SessionFactory, transaction
from tests.vouchers.support import claimed, make_voucher, reload
from vouchers.admin import update_voucher
from vouchers.audit import counter_drift
from vouchers.claims import Claimed, IdempotentRequest, claim_voucher, claims_of
from vouchers.errors import IdempotencyKeyReused, NotClaimable, VoucherError, VoucherNotFound
from vouchers.offers import offers_for
from vouchers.schemas import VoucherPatch

DAY = timedelta(days=1)


def claim(
    sessions: SessionFactory,
    voucher_id: uuid.UUID,
    user: str,
    *,
    key: str | None = None,
    now: datetime | None = None,
) -> Claimed:
    with transaction(sessions) as session:
        return claim_voucher(
            session,
            voucher_id=voucher_id,
            user_id=user,
            now=now or datetime.now(UTC),
            idempotency=IdempotentRequest(key, f"claim {voucher_id}") if key else None,
        )


def refusal(sessions: SessionFactory, voucher_id: uuid.UUID, user: str, now: datetime | None = None) -> str:
    with pytest.raises(VoucherError) as refused:
        claim(sessions, voucher_id, user, now=now)
    return refused.value.code


def assert_consistent(sessions: SessionFactory) -> None:
    with transaction(sessions) as session:
        assert counter_drift(session) == []


def test_a_claim_counts_once_and_the_stock_caps_it(sessions: SessionFactory) -> None:
    voucher = make_voucher(sessions, stock=2)
    first = claim(sessions, voucher.id, "alice")
    assert first.created and first.claim.user_id == "alice" and first.claim.status == "claimed"
    claim(sessions, voucher.id, "bob")
    assert refusal(sessions, voucher.id, "carol") == "sold_out"
    assert refusal(sessions, voucher.id, "alice") == "sold_out"
    assert claimed(sessions, voucher.id) == 2
    assert_consistent(sessions)


def test_the_per_user_limit_holds(sessions: SessionFactory) -> None:
    voucher = make_voucher(sessions, per_user_limit=2)
    claim(sessions, voucher.id, "alice")
    claim(sessions, voucher.id, "alice")
    assert refusal(sessions, voucher.id, "alice") == "per_user_limit_reached"
    with transaction(sessions) as session:
        assert len(claims_of(session, user_id="alice")) == 2
    assert_consistent(sessions)


def test_windows_state_and_audience_refuse_claims(sessions: SessionFactory) -> None:
    now = datetime.now(UTC)
    later = make_voucher(sessions, now=now, claim_starts_at=now + DAY)
    assert refusal(sessions, later.id, "alice") == "claim_window_not_started"
    closed = make_voucher(sessions, now=now, claim_ends_at=now + DAY)
    assert refusal(sessions, closed.id, "alice", now=now + 2 * DAY) == "claim_window_ended"
    draft = make_voucher(sessions, enabled=False)
    assert refusal(sessions, draft.id, "alice") == "voucher_not_found"
    assert refusal(sessions, uuid.uuid4(), "alice") == "voucher_not_found"
    vip = make_voucher(sessions, audience=["bob"])
    assert refusal(sessions, vip.id, "alice") == "not_in_audience"
    assert claim(sessions, vip.id, "bob").created


def test_an_idempotency_key_replays_the_first_claim(sessions: SessionFactory) -> None:
    voucher = make_voucher(sessions, stock=1)
    first = claim(sessions, voucher.id, "alice", key="k-1")
    again = claim(sessions, voucher.id, "alice", key="k-1")
    assert first.created and not again.created and again.claim.id == first.claim.id
    other = make_voucher(sessions)
    with pytest.raises(IdempotencyKeyReused):
        claim(sessions, other.id, "alice", key="k-1")
    # The same key from another user is another request.
    with pytest.raises(NotClaimable, match="no vouchers left"):
        claim(sessions, voucher.id, "bob", key="k-1")
    assert claimed(sessions, voucher.id) == 1
    assert_consistent(sessions)


def test_a_refused_claim_leaves_nothing_behind(sessions: SessionFactory) -> None:
    voucher = make_voucher(sessions, stock=1)
    claim(sessions, voucher.id, "alice")
    with pytest.raises(NotClaimable):
        claim(sessions, voucher.id, "bob", key="retry-me")
    # The key was not spent on the refusal: after a stock raise the same key claims.
    with transaction(sessions) as session:
        update_voucher(session, voucher_id=voucher.id, patch=VoucherPatch(stock=2), now=datetime.now(UTC))
    assert claim(sessions, voucher.id, "bob", key="retry-me").created
    assert_consistent(sessions)


def test_offers_list_what_the_user_may_claim_and_record_each_push_once(sessions: SessionFactory) -> None:
    now = datetime.now(UTC)
    open_ = make_voucher(sessions, now=now, name="open")
    sold_out = make_voucher(sessions, now=now, name="sold out", stock=1)
    claim(sessions, sold_out.id, "zed")
    make_voucher(sessions, now=now, name="not yet", claim_starts_at=now + DAY)
    make_voucher(sessions, now=now, name="draft", enabled=False)
    make_voucher(sessions, now=now, name="someone else's", audience=["bob"])
    taken = make_voucher(sessions, now=now, name="taken")
    claim(sessions, taken.id, "alice")

    for _ in range(2):
        with transaction(sessions) as session:
            offers = offers_for(session, user_id="alice", now=now)
        assert [(o.voucher.name, o.claims_left, o.claimed) for o in offers] == [("open", 1, 0)]
    assert reload(sessions, open_.id).pushed_count == 1
    with transaction(sessions) as session:
        offers_for(session, user_id="bob", now=now)
    assert reload(sessions, open_.id).pushed_count == 2
    assert_consistent(sessions)


def test_unknown_voucher_is_not_found(sessions: SessionFactory) -> None:
    with pytest.raises(VoucherNotFound):
        claim(sessions, uuid.uuid4(), "alice")
