"""The dispatcher as its own process (`iot-billing dispatcher`): killed mid-delivery and restarted, it loses
nothing; stopped with SIGTERM, it finishes the sends in flight."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from infra.db import SessionFactory, transaction
from models.webhook import DeliveryStatus, WebhookDelivery
from tests.reliability.processes import ManagedProcess
from tests.support.events import insert_subscription_events
from tests.webhooks.process import dispatcher_command
from tests.webhooks.receiver import Receiver
from tests.webhooks.support import in_sequence_per_subscription, register, until


@pytest.fixture
def dispatcher_process(database_url_for_test: str, tmp_path: Path) -> Iterator[ManagedProcess]:
    process = dispatcher_command(database_url_for_test, tmp_path / "dispatcher.log")
    yield process
    process.kill()


async def test_killed_mid_delivery_then_restarted_loses_nothing(
    http: httpx.AsyncClient,
    sessions: SessionFactory,
    receivers: Callable[..., Receiver],
    dispatcher_process: ManagedProcess,
) -> None:
    receiver = receivers(delay_seconds=0.5).start()
    await register(http, receiver)
    subscriptions = [uuid.uuid4() for _ in range(3)]
    expected = {e for s in subscriptions for e in insert_subscription_events(sessions, s, 6)}
    dispatcher_process.start()
    await until(lambda: receiver.requests >= 4)
    dispatcher_process.kill()
    assert len(receiver.accepted_ids()) < len(expected)
    dispatcher_process.start()
    await until(lambda: receiver.accepted_ids() == expected, within=60)
    assert receiver.unverified == 0
    order = in_sequence_per_subscription(receiver.accepted_events())
    assert order == {str(s): [1, 2, 3, 4, 5, 6] for s in subscriptions}
    await until(lambda: _statuses(sessions) == {DeliveryStatus.DELIVERED}, within=30)


async def test_sigterm_finishes_sends_in_flight(
    http: httpx.AsyncClient,
    sessions: SessionFactory,
    receivers: Callable[..., Receiver],
    dispatcher_process: ManagedProcess,
) -> None:
    receiver = receivers(delay_seconds=1.5).start()
    await register(http, receiver)
    insert_subscription_events(sessions, uuid.uuid4(), 1)
    dispatcher_process.start()
    await until(lambda: receiver.requests == 1)
    dispatcher_process.stop(timeout=15)
    assert _statuses(sessions) == {DeliveryStatus.DELIVERED}
    assert "finishing deliveries in flight" in dispatcher_process.log_path.read_text()


def _statuses(sessions: SessionFactory) -> set[DeliveryStatus]:
    with transaction(sessions) as session:
        return {d.status for d in session.exec(select(WebhookDelivery)).all()}
