"""The subscription interface: reserve at signing, a discount per period, `used` once a covered charge
succeeds, released when signing or the first charge fails for good."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from infra.db import SessionFactory, transaction
from models.voucher import ClaimStatus, VoucherClaim
from tests.support.factories import make_product
from tests.vouchers.support import make_voucher, reload
from vouchers.claims import claim_voucher
from vouchers.errors import VoucherNotUsable
from vouchers.redemption import (
    check_claim_usable,
    discount_for_period,
    mark_used,
    release_claim,
    reserve_claim,
)
from vouchers.transitions import terminate_voucher

DAY = timedelta(days=1)


def claimed(sessions: SessionFactory, voucher_id: uuid.UUID, user: str = "alice") -> uuid.UUID:
    with transaction(sessions) as session:
        claim = claim_voucher(session, voucher_id=voucher_id, user_id=user, now=datetime.now(UTC)).claim
    return claim.id


def load(sessions: SessionFactory, claim_id: uuid.UUID) -> VoucherClaim:
    with transaction(sessions) as session:
        claim = session.get(VoucherClaim, claim_id)
    assert claim is not None
    return claim


def reserve(
    sessions: SessionFactory, claim_id: uuid.UUID, product_id: uuid.UUID, contract: uuid.UUID
) -> None:
    with transaction(sessions) as session:
        reserve_claim(
            session,
            claim_id=claim_id,
            user_id="alice",
            product_id=product_id,
            contract_id=contract,
            now=datetime.now(UTC),
        )


def discount(sessions: SessionFactory, claim_id: uuid.UUID, contract: uuid.UUID, period: int) -> int:
    with transaction(sessions) as session:
        return discount_for_period(
            session, claim_id=claim_id, contract_id=contract, period=period, gross_minor=4500
        )


def test_reserve_discount_use_exactly_once(sessions: SessionFactory) -> None:
    product = make_product(sessions)
    voucher = make_voucher(sessions, duration_periods=2)
    claim_id = claimed(sessions, voucher.id)
    contract = uuid.uuid4()
    with transaction(sessions) as session:
        check_claim_usable(
            session, claim_id=claim_id, user_id="alice", product_id=product, now=datetime.now(UTC)
        )
    assert discount(sessions, claim_id, contract, 0) == 0  # not reserved yet
    reserve(sessions, claim_id, product, contract)
    reserve(sessions, claim_id, product, contract)  # a retried signing
    assert load(sessions, claim_id).status is ClaimStatus.CLAIMED
    assert [discount(sessions, claim_id, contract, p) for p in (0, 1, 2)] == [1125, 1125, 0]
    assert discount(sessions, claim_id, uuid.uuid4(), 0) == 0
    for _ in range(3):
        with transaction(sessions) as session:
            mark_used(session, claim_id=claim_id, contract_id=contract, now=datetime.now(UTC))
    assert load(sessions, claim_id).status is ClaimStatus.USED
    assert reload(sessions, voucher.id).redeemed_count == 1
    # Later periods of the same subscription keep their discount; release is a no-op once used.
    assert discount(sessions, claim_id, contract, 1) == 1125
    with transaction(sessions) as session:
        release_claim(session, claim_id=claim_id, contract_id=contract)
    assert load(sessions, claim_id).status is ClaimStatus.USED


def test_a_reserved_claim_is_not_usable_elsewhere_until_released(sessions: SessionFactory) -> None:
    product = make_product(sessions)
    voucher = make_voucher(sessions)
    claim_id = claimed(sessions, voucher.id)
    first, second = uuid.uuid4(), uuid.uuid4()
    reserve(sessions, claim_id, product, first)
    with pytest.raises(VoucherNotUsable) as refused:
        reserve(sessions, claim_id, product, second)
    assert refused.value.code == "claim_reserved"
    with transaction(sessions) as session:
        release_claim(session, claim_id=claim_id, contract_id=second)  # not its holder: no-op
        release_claim(session, claim_id=claim_id, contract_id=first)
    released = load(sessions, claim_id)
    assert (released.status, released.contract_id, released.reserved_at) == (ClaimStatus.CLAIMED, None, None)
    reserve(sessions, claim_id, product, second)
    assert reload(sessions, voucher.id).redeemed_count == 0


def test_someone_elses_claim_and_uncovered_products_are_refused(sessions: SessionFactory) -> None:
    covered = make_product(sessions)
    other = make_product(sessions, resource_type="doorbell_history")
    voucher = make_voucher(sessions)
    claim_id = claimed(sessions, voucher.id, user="bob")

    def code(user: str, product: uuid.UUID) -> str:
        with pytest.raises(VoucherNotUsable) as refused, transaction(sessions) as session:
            check_claim_usable(
                session, claim_id=claim_id, user_id=user, product_id=product, now=datetime.now(UTC)
            )
        return refused.value.code

    assert code("alice", covered) == "claim_not_found"
    assert code("bob", other) == "product_not_covered"
    assert code("bob", uuid.uuid4()) == "unknown_product"


def test_release_after_termination_expires_the_claim(sessions: SessionFactory) -> None:
    product = make_product(sessions)
    voucher = make_voucher(sessions)
    reserved_id, idle_id = claimed(sessions, voucher.id, "alice"), claimed(sessions, voucher.id, "bob")
    contract = uuid.uuid4()
    reserve(sessions, reserved_id, product, contract)
    with transaction(sessions) as session:
        terminate_voucher(session, voucher_id=voucher.id, now=datetime.now(UTC), reason="campaign over")
    # The idle claim expires at once; the reserved one waits for its subscription's outcome.
    assert load(sessions, idle_id).status is ClaimStatus.EXPIRED
    assert load(sessions, reserved_id).status is ClaimStatus.CLAIMED
    assert discount(sessions, reserved_id, contract, 0) == 1125
    with transaction(sessions) as session:
        release_claim(session, claim_id=reserved_id, contract_id=contract)
    released = load(sessions, reserved_id)
    assert released.status is ClaimStatus.EXPIRED and released.expired_at is not None
