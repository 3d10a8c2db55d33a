"""Wake-up on new events: LISTEN on the channel the `events` insert trigger notifies at commit. Every
process that follows the outbox (the webhook dispatcher, the device publisher) also looks on its own every
poll interval, so a lost connection only delays, never loses."""

from __future__ import annotations

import asyncio
from typing import Literal

import psycopg
import structlog

from infra.settings import sqlalchemy_url

log = structlog.get_logger(__name__)
RECONNECT_SECONDS = 1.0
NEW_EVENTS_CHANNEL = "iot_billing_events"


def libpq_url(database_url: str) -> str:
    return sqlalchemy_url(database_url).replace("postgresql+psycopg://", "postgresql://", 1)


async def listen_for_events(database_url: str, wake: asyncio.Event) -> None:
    """Set `wake` on each notice until cancelled; reconnect after a lost connection."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                libpq_url(database_url), autocommit=True
            ) as conn:
                await conn.execute(f"LISTEN {NEW_EVENTS_CHANNEL}")
                # Events may have arrived while no one listened.
                wake.set()
                async for _notice in conn.notifies():
                    wake.set()
        except psycopg.Error as error:
            log.warning("event notices lost; reconnecting", error=str(error))
        await asyncio.sleep(RECONNECT_SECONDS)


async def wait_for_wake(
    wake: asyncio.Event, stopping: asyncio.Task[Literal[True]], *, poll_seconds: float
) -> None:
    """Return on a notice, on a stop, or after `poll_seconds`, whichever comes first."""
    waking = asyncio.create_task(wake.wait())
    await asyncio.wait({waking, stopping}, timeout=poll_seconds, return_when=asyncio.FIRST_COMPLETED)
    waking.cancel()
