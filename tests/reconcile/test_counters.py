"""Voucher counters against their rows, read from a real database: a counter that drifts is reported, and
without the voucher tables the check is skipped with a note."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
from sqlalchemy import text

from infra.db import SessionFactory, transaction
from reconcile.books import GatewayCharge
from reconcile.findings import Kind
from reconcile.run import reconcile

# Counters: pushed 1, claimed 2 (in one stock stripe), redeemed 0; the rows below hold one push and one
# (unused) claim.
_VOUCHER = text(
    """
    INSERT INTO vouchers (id, name, type, value, resource_type, product_ids, valid_from, valid_until,
        claim_starts_at, claim_ends_at, use_starts_at, use_ends_at, stock, per_user_limit, audience,
        duration_periods, status, pushed_count, redeemed_count)
    VALUES (:id, 'ten off', 'percent_off', 10, 'cloud_video_storage', '{}', now(), now(),
        now(), now(), now(), now(), 5, 1, '{}', 1, 'enabled', 1, 0)
    """
)
_STRIPE = text("INSERT INTO voucher_stock_stripes (voucher_id, stripe, stock, claimed) VALUES (:id, 0, 5, 2)")
_CLAIM = text(
    "INSERT INTO voucher_claims (id, voucher_id, user_id, status) VALUES (:claim, :voucher, 'ann', 'claimed')"
)
_PUSH = text("INSERT INTO voucher_pushes (voucher_id, user_id) VALUES (:voucher, 'ann')")


class NoCharges:
    def charges(self, contract_ids: Sequence[str] = ()) -> list[GatewayCharge]:
        return []


def voucher_tables(sessions: SessionFactory) -> set[str]:
    with transaction(sessions) as session:
        rows = session.execute(
            text("SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'voucher%'")
        )
        return {str(name) for (name,) in rows}


def test_counter_drift_is_reported(sessions: SessionFactory, database_url_for_test: str) -> None:
    if not {"vouchers", "voucher_claims", "voucher_pushes"} <= voucher_tables(sessions):
        pytest.skip("the voucher tables are not migrated in this tree")
    voucher_id = uuid.uuid4()
    with transaction(sessions) as session:
        session.execute(_VOUCHER, {"id": voucher_id})
        session.execute(_STRIPE, {"id": voucher_id})
        session.execute(_CLAIM, {"claim": uuid.uuid4(), "voucher": voucher_id})
        session.execute(_PUSH, {"voucher": voucher_id})

    report = reconcile(database_url=database_url_for_test, ledger=NoCharges())

    [found] = report.discrepancies
    assert (found.kind, found.subject) == (Kind.COUNTER_MISMATCH, f"voucher {voucher_id} claimed_count")
    assert found.detail == "counter says 2, 1 rows"
    assert report.checked["counters"] == 3


def test_counters_skipped_with_a_note_without_voucher_tables(
    sessions: SessionFactory, database_url_for_test: str
) -> None:
    tables = voucher_tables(sessions)
    if tables:
        with transaction(sessions) as session:
            session.execute(text(f"DROP TABLE {', '.join(sorted(tables))} CASCADE"))

    report = reconcile(database_url=database_url_for_test, ledger=NoCharges())

    assert report.clean
    assert report.notes == ("voucher counters not checked: no vouchers table",)
