"""Faults: the broker stopped mid-run and started again, the publisher SIGKILLed mid-publish, two
publishers at once. Each time every device converges to its database state and none ever receives an
older state after a newer one."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

from infra.db import SessionFactory
from tests.api.support import ADMIN_TOKEN, PAYLOAD_KEYS, USER_SECRET
from tests.devices.support import (
    Devices,
    change_entitlement,
    contract_for_tests,
    database_entitlements,
    open_many,
    published_entitlements,
    publisher_settings,
    queued,
    retained,
    running_publisher,
)
from tests.reliability.processes import ManagedProcess, child_environment
from tests.support.brokers import OwnMosquitto, require_mosquitto_binary

# The broker stays away this long in the outage test, as the issue asks: many reconnection attempts, with
# the backoff at its cap for most of them.
OUTAGE_SECONDS = 30.0


def cams(count: int) -> list[str]:
    return [f"cam-{uuid.uuid4().hex[:8]}" for _ in range(count)]


def in_version_order(devices: Devices) -> bool:
    return all(
        [s.version for s in states] == sorted(s.version for s in states)
        for states in devices.received.values()
    )


async def converged(devices: Devices, sessions: SessionFactory, ids: list[str]) -> None:
    """Every device holds the state the database has for it, and nothing is left to publish."""

    def matches() -> bool:
        for device_id in ids:
            latest = devices.latest(device_id)
            if latest is None or published_entitlements(latest) != database_entitlements(sessions, device_id):
                return False
        return True

    await devices.until(matches, within=60)
    await devices.until(lambda: queued(sessions) == 0, within=30)


async def test_broker_stopped_then_started_every_device_converges(
    sessions: SessionFactory, database_url_for_test: str, tmp_path: Path, prefix: str
) -> None:
    require_mosquitto_binary()
    broker = OwnMosquitto(tmp_path).start()
    contract_id = contract_for_tests(sessions)
    before, during = cams(20), cams(20)
    settings = publisher_settings(database_url_for_test, broker.url, prefix)
    try:
        async with Devices(broker.url, prefix) as devices, running_publisher(settings) as publisher:
            open_many(sessions, contract_id=contract_id, device_ids=before)
            await converged(devices, sessions, before)
            broker.stop()
            # Changes while the broker is away: half the devices revoked, new ones opened.
            for device_id in before[:10]:
                change_entitlement(sessions, device_id=device_id, contract_id=contract_id, status="revoked")
            open_many(sessions, contract_id=contract_id, device_ids=during)
            await asyncio.sleep(OUTAGE_SECONDS)
            assert queued(sessions) == 30
            broker.start()
            await converged(devices, sessions, before + during)
        assert devices.connections >= 2 and publisher.published >= 50
        assert queued(sessions) == 0
        assert in_version_order(devices)
        late = await retained(broker.url, prefix, before + during)
        assert {d: published_entitlements(s) for d, s in late.items()} == {
            d: database_entitlements(sessions, d) for d in before + during
        }
    finally:
        broker.stop()


def publisher_process(database_url: str, broker_url: str, prefix: str, log_path: Path) -> ManagedProcess:
    env = child_environment(
        DATABASE_URL=database_url,
        IOT_BILLING_ENVIRONMENT="test",
        IOT_BILLING_ADMIN_TOKEN=ADMIN_TOKEN,
        IOT_BILLING_USER_TOKEN_SECRET=USER_SECRET,
        IOT_BILLING_PAYLOAD_KEYS=PAYLOAD_KEYS,
        IOT_BILLING_MQTT_URL=broker_url,
        IOT_BILLING_MQTT_TOPIC_PREFIX=prefix,
        # Small batches, one at a time: the publish takes long enough to be killed in the middle.
        IOT_BILLING_PUBLISHER_BATCH="20",
        IOT_BILLING_PUBLISHER_CONCURRENCY="1",
        IOT_BILLING_PUBLISHER_POLL_SECONDS="0.2",
        IOT_BILLING_LOG_FORMAT="json",
    )
    return ManagedProcess(
        name="publisher", command=[sys.executable, "-m", "cli.main", "publisher"], env=env, log_path=log_path
    )


async def test_publisher_killed_mid_publish_loses_nothing(
    sessions: SessionFactory, database_url_for_test: str, tmp_path: Path, prefix: str
) -> None:
    require_mosquitto_binary()
    broker = OwnMosquitto(tmp_path).start()
    contract_id = contract_for_tests(sessions)
    ids = cams(3000)
    open_many(sessions, contract_id=contract_id, device_ids=ids)
    first = publisher_process(database_url_for_test, broker.url, prefix, tmp_path / "publisher.log")
    try:
        async with Devices(broker.url, prefix) as devices:
            first.start()
            await devices.until(lambda: len(devices.received) >= 200, within=60)
            first.kill()
            seen_at_kill = len(devices.received)
            left = queued(sessions)
            assert left > 0 and seen_at_kill < len(ids)
            second = publisher_process(database_url_for_test, broker.url, prefix, tmp_path / "publisher.log")
            second.start()
            try:
                await converged(devices, sessions, ids)
            finally:
                second.stop()
        assert queued(sessions) == 0
        assert in_version_order(devices)
    finally:
        first.kill()
        broker.stop()


async def test_two_publishers_never_overwrite_a_newer_state(
    sessions: SessionFactory, database_url_for_test: str, tmp_path: Path, prefix: str
) -> None:
    require_mosquitto_binary()
    broker = OwnMosquitto(tmp_path).start()
    contract_id = contract_for_tests(sessions)
    ids = cams(3)
    settings = publisher_settings(database_url_for_test, broker.url, prefix, publisher_batch=1)

    def churn() -> None:
        # The same few devices change again and again, each change committed on its own.
        for round_ in range(150):
            for n, device_id in enumerate(ids):
                status = "revoked" if (round_ + n) % 2 else "active"
                change_entitlement(sessions, device_id=device_id, contract_id=contract_id, status=status)

    try:
        async with (
            Devices(broker.url, prefix) as devices,
            running_publisher(settings) as one,
            running_publisher(settings) as two,
        ):
            await asyncio.to_thread(churn)
            await converged(devices, sessions, ids)
        assert one.published > 0 and two.published > 0
        assert queued(sessions) == 0
        assert in_version_order(devices)
        late = await retained(broker.url, prefix, ids)
        assert all(late[d] == devices.latest(d) for d in ids)
    finally:
        broker.stop()
