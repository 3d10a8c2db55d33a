"""PostgreSQL restarted while the dispatcher process delivers: sends fail or go unrecorded while it is
down, and afterwards every event still arrives, in order per subscription."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack.embedded_pg import EmbeddedPostgres
from infra.db import make_engine, make_session_factory
from tests.support.events import insert_subscription_events
from tests.support.own_postgres import own_postgres_server
from tests.webhooks.process import dispatcher_command
from tests.webhooks.receiver import Receiver
from tests.webhooks.support import in_sequence_per_subscription, until
from webhooks.endpoints import create_endpoint

DOWN_SECONDS = 3.0


@pytest.fixture
def own_postgres() -> Iterator[tuple[EmbeddedPostgres, str]]:
    with own_postgres_server() as running:
        yield running


@pytest.mark.timeout(180)
async def test_postgres_restart_loses_no_event(
    own_postgres: tuple[EmbeddedPostgres, str], receivers: Callable[..., Receiver], tmp_path: Path
) -> None:
    server, database = own_postgres
    engine = make_engine(database, pool_size=2)
    sessions = make_session_factory(engine)
    receiver = receivers(delay_seconds=0.3).start()
    endpoint = create_endpoint(sessions=sessions, url=receiver.url, event_types=["*"], description="")
    receiver.secrets.append(endpoint.secret)
    subscriptions = [uuid.uuid4() for _ in range(3)]
    expected = {e for s in subscriptions for e in insert_subscription_events(sessions, s, 6)}
    dispatcher = dispatcher_command(database, tmp_path / "dispatcher.log")
    dispatcher.start()
    try:
        await until(lambda: len(receiver.accepted_ids()) >= 3)
        server.stop()
        await asyncio.sleep(DOWN_SECONDS)
        assert server.start()
        for subscription in subscriptions:
            expected |= set(insert_subscription_events(sessions, subscription, 2, first=7))
        await until(lambda: receiver.accepted_ids() == expected, within=90)
    finally:
        dispatcher.stop()
        engine.dispose()
    assert receiver.unverified == 0
    order = in_sequence_per_subscription(receiver.accepted_events())
    assert order == {str(s): list(range(1, 9)) for s in subscriptions}
