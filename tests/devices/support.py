"""What the device tests watch with: a device-side subscriber that records every state it receives, the
state the database says a device should have, and entitlement changes written as the engine writes them."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from typing import Any

import aiomqtt
from sqlalchemy import text

from bench.mqtt import change_entitlements
from infra.db import SessionFactory, driver_connection, transaction
from infra.mqtt import MqttTarget, mqtt_client
from infra.settings import Settings
from models.device_state import DeviceState, device_topic
from publisher.main import Publisher
from tests.api.support import api_settings
from tests.support.factories import make_contract, make_product

Entitlements = list[tuple[str, str, str, datetime]]  # (resource type, status, subscription id, until)


def publisher_settings(database_url: str, broker_url: str, prefix: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "mqtt_url": broker_url,
        "mqtt_topic_prefix": prefix,
        "publisher_poll_seconds": 0.2,
        "mqtt_reconnect_first_seconds": 0.2,
        "mqtt_reconnect_max_seconds": 2.0,
        "mqtt_publish_timeout_seconds": 5.0,
    }
    settings = api_settings("unused", **(values | overrides))
    return settings.model_copy(update={"database_url": database_url})


@asynccontextmanager
async def running_publisher(settings: Settings) -> AsyncIterator[Publisher]:
    stop = asyncio.Event()
    publisher = Publisher(settings)
    task = asyncio.create_task(publisher.run(stop))
    try:
        yield publisher
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


class Devices:
    """Subscribed to every device topic under a prefix, as devices would be; reconnects if the broker goes,
    and records each message in the order the broker delivered it."""

    def __init__(self, url: str, prefix: str) -> None:
        self.target = MqttTarget.parse(url)
        self.prefix = prefix
        self.received: dict[str, list[DeviceState]] = defaultdict(list)
        self.connections = 0
        self._task: asyncio.Task[None] | None = None

    def latest(self, device_id: str) -> DeviceState | None:
        """The highest version seen, as a device keeps it."""
        states = self.received.get(device_id)
        return max(states, key=lambda s: s.version) if states else None

    async def until(self, check: Callable[[], bool], within: float = 20.0) -> None:
        deadline = time.monotonic() + within
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached within {within:g}s; devices saw {dict(self.received)}")
            await asyncio.sleep(0.05)

    async def state(self, device_id: str, check: Callable[[DeviceState], bool]) -> DeviceState:
        """Wait for the device's latest state to pass `check`; return it."""

        def passes() -> bool:
            latest = self.latest(device_id)
            return latest is not None and check(latest)

        await self.until(passes)
        latest = self.latest(device_id)
        assert latest is not None
        return latest

    async def __aenter__(self) -> Devices:
        subscribed = asyncio.Event()
        self._task = asyncio.create_task(self._run(subscribed))
        await asyncio.wait_for(subscribed.wait(), timeout=20)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task

    async def _run(self, subscribed: asyncio.Event) -> None:
        while True:
            try:
                async with mqtt_client(self.target) as client:
                    await client.subscribe(device_topic(self.prefix, "+"), qos=1)
                    self.connections += 1
                    subscribed.set()
                    async for message in client.messages:
                        if isinstance(message.payload, bytes) and message.payload:
                            state = DeviceState.model_validate_json(message.payload)
                            self.received[state.device_id].append(state)
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)


async def retained(
    url: str, prefix: str, device_ids: Iterable[str], within: float = 5.0
) -> dict[str, DeviceState]:
    """What a device connecting now receives: the retained state of each device."""
    wanted = set(device_ids)
    found: dict[str, DeviceState] = {}
    async with mqtt_client(MqttTarget.parse(url)) as client:
        for device_id in wanted:
            await client.subscribe(device_topic(prefix, device_id), qos=1)
        with suppress(TimeoutError):
            async with asyncio.timeout(within):
                async for message in client.messages:
                    if isinstance(message.payload, bytes) and message.payload:
                        state = DeviceState.model_validate_json(message.payload)
                        found[state.device_id] = state
                    if set(found) == wanted:
                        break
    return found


async def clear_retained(url: str, prefix: str, device_ids: Iterable[str]) -> None:
    """Empty retained messages delete the states a test left on a shared broker."""
    async with mqtt_client(MqttTarget.parse(url)) as client:
        for device_id in device_ids:
            await client.publish(device_topic(prefix, device_id), b"", qos=1, retain=True)


def database_entitlements(sessions: SessionFactory, device_id: str) -> Entitlements:
    """The device's entitlements as the database holds them, in the published form."""
    with transaction(sessions) as session:
        rows = session.execute(
            text(
                "SELECT resource_type, status, contract_id, valid_until FROM entitlements"
                " WHERE device_id = :d"
            ),
            {"d": device_id},
        ).all()
    return sorted((r[0], "open" if r[1] == "active" else "revoked", str(r[2]), r[3]) for r in rows)


def published_entitlements(state: DeviceState) -> Entitlements:
    return sorted(
        (e.resource_type, e.status.value, str(e.subscription_id), e.paid_through) for e in state.entitlements
    )


def open_many(sessions: SessionFactory, *, contract_id: uuid.UUID, device_ids: list[str]) -> None:
    """Open an entitlement on each device in one transaction, with one event each."""
    with transaction(sessions) as session:
        change_entitlements(driver_connection(session), contract_id=contract_id, device_ids=device_ids)


def contract_for_tests(sessions: SessionFactory) -> uuid.UUID:
    product_id = make_product(sessions)
    return uuid.UUID(make_contract(sessions, user_id="user-1", product_id=product_id, devices=[]))


def change_entitlement(
    sessions: SessionFactory, *, device_id: str, contract_id: uuid.UUID, status: str = "active"
) -> None:
    """Open or revoke one device's entitlement and write its event in one transaction, as the engine does."""
    with transaction(sessions) as session:
        change_entitlements(
            driver_connection(session), contract_id=contract_id, device_ids=[device_id], status=status
        )


def queued(sessions: SessionFactory) -> int:
    with transaction(sessions) as session:
        return int(session.execute(text("SELECT count(*) FROM device_changes")).scalar_one())
