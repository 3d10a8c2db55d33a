"""The publisher against each broker: a change reaches the device's topic retained, a later change wins
with a higher version, a device connecting late gets the latest, and `republish-devices` refills a wiped
broker."""

from __future__ import annotations

import uuid

from cli.devices import republish
from infra.db import SessionFactory
from models.device_state import DeviceEntitlementStatus
from tests.devices.support import (
    Devices,
    change_entitlement,
    clear_retained,
    contract_for_tests,
    database_entitlements,
    published_entitlements,
    publisher_settings,
    queued,
    retained,
    running_publisher,
)

OPEN, REVOKED = DeviceEntitlementStatus.OPEN, DeviceEntitlementStatus.REVOKED


def statuses(state: object) -> list[str]:
    return [e.status.value for e in state.entitlements]  # type: ignore[attr-defined]


async def test_changes_reach_the_device_and_a_late_device_gets_the_latest(
    sessions: SessionFactory,
    database_url_for_test: str,
    broker_url: str,
    prefix: str,
    cleanup: list[tuple[str, str]],
) -> None:
    contract_id = contract_for_tests(sessions)
    device = f"cam-{uuid.uuid4().hex[:8]}"
    cleanup.append((broker_url, device))
    settings = publisher_settings(database_url_for_test, broker_url, prefix)
    async with Devices(broker_url, prefix) as devices, running_publisher(settings):
        change_entitlement(sessions, device_id=device, contract_id=contract_id)
        opened = await devices.state(device, lambda s: statuses(s) == ["open"])
        change_entitlement(sessions, device_id=device, contract_id=contract_id, status="revoked")
        revoked = await devices.state(device, lambda s: statuses(s) == ["revoked"])
    assert revoked.version > opened.version
    assert opened.entitlements[0].subscription_id == contract_id
    # Every message the device got came in version order.
    versions = [s.version for s in devices.received[device]]
    assert versions == sorted(versions)
    late = await retained(broker_url, prefix, [device])
    assert late[device] == revoked
    assert published_entitlements(late[device]) == database_entitlements(sessions, device)
    assert queued(sessions) == 0


async def test_republish_refills_a_wiped_broker_with_higher_versions(
    sessions: SessionFactory,
    database_url_for_test: str,
    broker_url: str,
    prefix: str,
    cleanup: list[tuple[str, str]],
) -> None:
    contract_id = contract_for_tests(sessions)
    ids = [f"cam-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    cleanup.extend((broker_url, d) for d in ids)
    settings = publisher_settings(database_url_for_test, broker_url, prefix)
    for device in ids:
        change_entitlement(sessions, device_id=device, contract_id=contract_id)
    async with Devices(broker_url, prefix) as devices, running_publisher(settings):
        await devices.until(lambda: all(devices.latest(d) for d in ids))
    before = {d: devices.latest(d) for d in ids}
    await clear_retained(broker_url, prefix, ids)
    assert await retained(broker_url, prefix, ids, within=1.0) == {}

    said: list[str] = []
    assert await republish(settings, [ids[0]], said.append) == 0
    only_one = await retained(broker_url, prefix, ids, within=1.0)
    assert set(only_one) == {ids[0]}
    assert await republish(settings, None, said.append) == 0
    after = await retained(broker_url, prefix, ids)
    assert set(after) == set(ids)
    for device in ids:
        old = before[device]
        assert old is not None
        assert after[device].version > old.version
        assert after[device].entitlements == old.entitlements
    assert said[-1].startswith("published 3 device states")
