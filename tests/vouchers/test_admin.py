"""Operator configuration and node transitions on real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from infra.db import SessionFactory, transaction
from models.voucher import ClaimStatus, VoucherClaim, VoucherStatus
from tests.support.factories import make_product
from tests.vouchers.support import claimed, make_voucher, reload, voucher_request
from vouchers.admin import create_voucher, list_vouchers, update_voucher
from vouchers.claims import claim_voucher
from vouchers.errors import InvalidVoucher, VoucherConflict
from vouchers.schemas import VoucherPatch
from vouchers.transitions import enable_voucher, expire_claims, open_claim_window, terminate_voucher

DAY = timedelta(days=1)


def patch(sessions: SessionFactory, voucher_id: uuid.UUID, **fields: object) -> None:
    with transaction(sessions) as session:
        update_voucher(
            session, voucher_id=voucher_id, patch=VoucherPatch.model_validate(fields), now=datetime.now(UTC)
        )


def test_create_checks_linked_products(sessions: SessionFactory) -> None:
    product = make_product(sessions)
    missing = uuid.uuid4()
    request = voucher_request(product_ids=[product, missing])
    with pytest.raises(InvalidVoucher) as refused, transaction(sessions) as session:
        create_voucher(session, request=request, now=datetime.now(UTC))
    assert [(p.field, p.code) for p in refused.value.problems] == [("product_ids[1]", "unknown_product")]
    with transaction(sessions) as session:
        assert list_vouchers(session) == []


def test_drafts_change_freely_enabled_vouchers_only_in_safe_fields(sessions: SessionFactory) -> None:
    draft = make_voucher(sessions, enabled=False)
    patch(sessions, draft.id, value=40, name="Forty off")
    assert (reload(sessions, draft.id).value, reload(sessions, draft.id).name) == (40, "Forty off")
    with pytest.raises(InvalidVoucher) as refused:
        patch(sessions, draft.id, value=140)
    assert refused.value.problems[0].code == "percent_over_100"
    with pytest.raises(InvalidVoucher) as refused:
        patch(sessions, draft.id, name=None)
    assert refused.value.problems[0].code == "null_not_allowed"

    enabled = make_voucher(sessions)
    patch(sessions, enabled.id, name="Renamed", stock=500, audience=["alice"])
    with pytest.raises(VoucherConflict) as conflict:
        patch(sessions, enabled.id, value=50)
    assert conflict.value.code == "fields_locked"
    patch(sessions, enabled.id, value=25)  # unchanged values are not changes


def test_stock_never_drops_below_the_claims_made(sessions: SessionFactory) -> None:
    voucher = make_voucher(sessions, stock=5)
    for user in ("a", "b", "c"):
        with transaction(sessions) as session:
            claim_voucher(session, voucher_id=voucher.id, user_id=user, now=datetime.now(UTC))
    with pytest.raises(InvalidVoucher) as refused:
        patch(sessions, voucher.id, stock=2)
    assert refused.value.problems[0].code == "stock_below_claimed"
    patch(sessions, voucher.id, stock=3)
    assert reload(sessions, voucher.id).stock == 3


def test_enable_schedules_before_the_claim_window_and_transitions_are_idempotent(
    sessions: SessionFactory,
) -> None:
    now = datetime.now(UTC)
    voucher = make_voucher(sessions, enabled=False, now=now, claim_starts_at=now + DAY)
    with transaction(sessions) as session:
        assert enable_voucher(session, voucher_id=voucher.id, now=now).status is VoucherStatus.SCHEDULED
        assert enable_voucher(session, voucher_id=voucher.id, now=now).status is VoucherStatus.SCHEDULED
        assert open_claim_window(session, voucher_id=voucher.id, now=now).status is VoucherStatus.SCHEDULED
        assert (
            open_claim_window(session, voucher_id=voucher.id, now=now + DAY).status is VoucherStatus.ENABLED
        )
        terminate_voucher(session, voucher_id=voucher.id, now=now + DAY, reason="stop")
        again = terminate_voucher(session, voucher_id=voucher.id, now=now + 2 * DAY, reason="again")
        assert (again.status, again.termination_reason) == (VoucherStatus.TERMINATED, "stop")
    with pytest.raises(VoucherConflict) as conflict, transaction(sessions) as session:
        enable_voucher(session, voucher_id=voucher.id, now=now)
    assert conflict.value.code == "voucher_terminated"
    with pytest.raises(VoucherConflict) as conflict:
        patch(sessions, voucher.id, name="late")
    assert conflict.value.code == "voucher_terminated"


def test_unused_claims_expire_at_the_use_window_end(sessions: SessionFactory) -> None:
    now = datetime.now(UTC)
    voucher = make_voucher(sessions, now=now, claim_ends_at=now + DAY, use_ends_at=now + 2 * DAY)
    with transaction(sessions) as session:
        claim = claim_voucher(session, voucher_id=voucher.id, user_id="alice", now=now).claim
        assert expire_claims(session, voucher_id=voucher.id, now=now + DAY) == 0
        assert expire_claims(session, voucher_id=voucher.id, now=now + 2 * DAY) == 1
        assert expire_claims(session, voucher_id=voucher.id, now=now + 2 * DAY) == 0
    with transaction(sessions) as session:
        expired = session.get(VoucherClaim, claim.id)
        assert expired is not None and expired.status is ClaimStatus.EXPIRED
    assert claimed(sessions, voucher.id) == 1
