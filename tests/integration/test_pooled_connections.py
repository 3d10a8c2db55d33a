"""The pool never hands out a connection PostgreSQL has closed, and finds that out without a round trip
for a connection that is alive."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text

from infra.db import make_engine


@pytest.fixture
def engine(database_url_for_test: str) -> Iterator[Engine]:
    engine = make_engine(database_url_for_test, pool_size=1)
    yield engine
    engine.dispose()


@pytest.fixture
def pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every round-trip ping the pool makes."""
    made: list[object] = []
    real = engine.dialect.do_ping

    def counted(connection: Any) -> bool:
        made.append(connection)
        return real(connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return made


def _backend(engine: Engine) -> int:
    with engine.connect() as conn:
        pid: int = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return pid


def test_a_live_pooled_connection_is_handed_out_without_a_ping(engine: Engine, pings: list[object]) -> None:
    first = _backend(engine)

    assert [_backend(engine) for _ in range(3)] == [first] * 3
    assert pings == []


def test_a_connection_the_server_closed_is_replaced_at_checkout(
    engine: Engine, pings: list[object], database_url_for_test: str
) -> None:
    first = _backend(engine)
    with psycopg.connect(database_url_for_test, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    time.sleep(0.3)  # the backend writes its goodbye as it exits

    second = _backend(engine)

    assert second != first
    assert len(pings) == 1  # the suspect connection, pinged once, failed and was replaced
