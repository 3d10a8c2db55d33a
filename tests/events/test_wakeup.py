"""The outbox's followers find new work by probing, and writing an event notifies no one: PostgreSQL
serialises the commits of notifying transactions."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import psycopg
import pytest

from events.wakeup import NEW_EVENTS_CHANNEL, UNDISPATCHED_EVENTS, libpq_url, watch_for_work


def _write_event(database_url: str) -> None:
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute(
            "INSERT INTO events (id, type, voucher_id, user_id, data) "
            "VALUES (%s, 'voucher.claimed', %s, 'u', '{}')",
            (uuid.uuid4().hex, uuid.uuid4()),
        )


async def test_a_committed_event_sends_no_notice(database_url_for_test: str) -> None:
    url = libpq_url(database_url_for_test)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f"LISTEN {NEW_EVENTS_CHANNEL}")
        await asyncio.to_thread(_write_event, database_url_for_test)
        notices = [n async for n in conn.notifies(timeout=1.0)]
    assert notices == []


@pytest.mark.timeout(30)
async def test_the_probe_wakes_on_an_unplanned_event_and_not_before(database_url_for_test: str) -> None:
    wake = asyncio.Event()
    watcher = asyncio.create_task(
        watch_for_work(database_url_for_test, wake, probe=UNDISPATCHED_EVENTS, every=0.05)
    )
    try:
        await asyncio.sleep(0.5)
        assert not wake.is_set()
        await asyncio.to_thread(_write_event, database_url_for_test)
        await asyncio.wait_for(wake.wait(), timeout=5)
        # A redelivery still nudges by NOTIFY, on the same connection.
        with psycopg.connect(libpq_url(database_url_for_test), autocommit=True) as conn:
            conn.execute("UPDATE events SET dispatched_at = now()")
        await asyncio.sleep(0.3)
        wake.clear()
        await asyncio.sleep(0.3)
        assert not wake.is_set()
        with psycopg.connect(libpq_url(database_url_for_test), autocommit=True) as conn:
            conn.execute(f"NOTIFY {NEW_EVENTS_CHANNEL}")
        await asyncio.wait_for(wake.wait(), timeout=5)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
