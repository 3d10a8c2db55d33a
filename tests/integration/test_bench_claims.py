"""The bench's claim measurements run every operation they are asked for, however few, on real PostgreSQL:
fewer claims than connections once divided to zero per connection and a rate of nothing. Each connection
claims (or updates) once before the clock starts, so a new server session's first call is not timed."""

import psycopg
import pytest

from bench.claims import raw_updates_per_s, service_claims_per_s, split_evenly
from infra.db import SessionFactory
from tests.vouchers.support import claimed, make_voucher


def test_operations_are_split_over_connections_with_none_idle_and_none_lost() -> None:
    assert split_evenly(600, 32) == [19] * 24 + [18] * 8
    assert split_evenly(5, 32) == [1] * 5
    assert split_evenly(7, 3) == [3, 2, 2]
    assert split_evenly(1, 1) == [1]
    with pytest.raises(ValueError, match="at least one operation"):
        split_evenly(0, 4)
    with pytest.raises(ValueError, match="at least one operation"):
        split_evenly(4, 0)


def test_raw_updates_run_every_update_asked_for_with_fewer_than_the_connections(
    database_url_for_test: str,
) -> None:
    rate = raw_updates_per_s(database_url_for_test, updates=5, connections=32)

    assert rate > 0
    with psycopg.connect(database_url_for_test) as conn:
        row = conn.execute("SELECT claimed, stock FROM bench_hot_row WHERE id = 1").fetchone()
    # Every update asked for, and each of the five connections' one before the clock started.
    assert row == (10, 10)


def test_service_claims_take_every_claim_asked_for_with_fewer_than_the_connections(
    database_url_for_test: str, sessions: SessionFactory
) -> None:
    voucher = make_voucher(sessions, stock=20)

    rate = service_claims_per_s(database_url_for_test, str(voucher.id), claims=7, connections=32)

    assert rate > 0
    # Every claim asked for, and each of the seven connections' one before the clock started.
    assert claimed(sessions, voucher.id) == 14
