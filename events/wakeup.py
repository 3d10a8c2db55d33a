"""Wake-up for the processes that follow the outbox (the webhook dispatcher, the device publisher): a probe
query on one connection every few tenths of a second, plus LISTEN for the rare writer that nudges on
purpose (a redelivery). Each process also runs a full round every poll interval, so a lost connection
only delays, never loses.

The writers do not NOTIFY. PostgreSQL serialises the commits of every transaction that notifies (a
database-wide lock held through the commit's WAL flush), so a trigger on `events` made every charge,
claim and entitlement change commit one at a time, whatever the number of connections."""

from __future__ import annotations

import asyncio
from typing import Literal, LiteralString

import psycopg
import structlog

from infra.settings import sqlalchemy_url

log = structlog.get_logger(__name__)
RECONNECT_SECONDS = 1.0
NEW_EVENTS_CHANNEL = "iot_billing_events"

# Probes: one boolean each, answered from a partial index or a small queue table.
UNDISPATCHED_EVENTS: LiteralString = "SELECT EXISTS (SELECT 1 FROM events WHERE dispatched_at IS NULL)"
QUEUED_DEVICE_CHANGES: LiteralString = "SELECT EXISTS (SELECT 1 FROM device_changes)"


def libpq_url(database_url: str) -> str:
    return sqlalchemy_url(database_url).replace("postgresql+psycopg://", "postgresql://", 1)


async def watch_for_work(
    database_url: str, wake: asyncio.Event, *, probe: LiteralString, every: float
) -> None:
    """Set `wake` whenever `probe` finds work or a notice arrives, until cancelled; reconnect after a lost
    connection."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                libpq_url(database_url), autocommit=True
            ) as conn:
                await conn.execute(f"LISTEN {NEW_EVENTS_CHANNEL}")
                while True:
                    row = await (await conn.execute(probe)).fetchone()
                    if row is not None and row[0]:
                        wake.set()
                    async for _notice in conn.notifies(timeout=every, stop_after=1):
                        wake.set()
        except psycopg.Error as error:
            log.warning("wake-up probe lost; reconnecting", error=str(error))
        await asyncio.sleep(RECONNECT_SECONDS)


async def wait_for_wake(
    wake: asyncio.Event, stopping: asyncio.Task[Literal[True]], *, poll_seconds: float
) -> None:
    """Return on a wake-up, on a stop, or after `poll_seconds`, whichever comes first."""
    waking = asyncio.create_task(wake.wait())
    await asyncio.wait({waking, stopping}, timeout=poll_seconds, return_when=asyncio.FIRST_COMPLETED)
    waking.cancel()
