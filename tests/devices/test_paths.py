"""The retained state follows every path of a subscription: signup, renewal, a soft decline then payment,
dunning exhausted, a hard decline at renewal, a device removed or unbound, a device added, cancel at
period end and immediately. Each change raises the device's version; a device that connects late gets the
latest state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory
from models.device_state import DeviceEntitlement, DeviceState
from models.enums import CancelMode
from models.messages import AgreementReplacement, CancelRequest, DeviceChange
from tests.devices.support import (
    Devices,
    database_entitlements,
    published_entitlements,
    publisher_settings,
    retained,
    running_publisher,
)
from tests.fixtures.sandbox import SandboxGateway
from tests.support.factories import HOUR, make_devices, make_product, unbind
from tests.support.temporal import settled, start_subscription, wait_for_state
from workflows.subscription import SubscriptionWorkflow


@pytest.fixture
async def devices(
    database_url_for_test: str, any_broker_url: str, prefix: str, cleanup: list[tuple[str, str]]
) -> AsyncIterator[Devices]:
    """Every device of the test, subscribed from the start, with a publisher running."""
    settings = publisher_settings(database_url_for_test, any_broker_url, prefix)
    async with Devices(any_broker_url, prefix) as watching, running_publisher(settings):
        yield watching
    cleanup.extend((any_broker_url, d) for d in watching.received)


def entitlement(state: DeviceState, contract_id: str) -> DeviceEntitlement:
    (found,) = [e for e in state.entitlements if str(e.subscription_id) == contract_id]
    return found


def is_(status: str, contract_id: str, paid_through: object = None) -> object:
    def check(state: DeviceState) -> bool:
        found = [e for e in state.entitlements if str(e.subscription_id) == contract_id]
        return (
            bool(found) and found[0].status.value == status and paid_through in (None, found[0].paid_through)
        )

    return check


async def test_signup_and_renewal_open_then_extend_and_a_late_device_gets_the_latest(
    env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
    devices: Devices,
    any_broker_url: str,
    prefix: str,
) -> None:
    product_id = make_product(sessions, cycle="P30D")
    cams = make_devices(sessions, owner="ann", count=2)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="ann", product_id=product_id, device_ids=cams
    )
    first = await settled(env, handle)
    opened = {c: await devices.state(c, is_("open", contract_id, first.paid_through)) for c in cams}
    await env.sleep(timedelta(days=30, minutes=1))
    second = await settled(env, handle)
    renewed = {c: await devices.state(c, is_("open", contract_id, second.paid_through)) for c in cams}

    for cam in cams:
        assert renewed[cam].version > opened[cam].version
        assert entitlement(renewed[cam], contract_id).resource_type == "cloud_video_storage"
    late = await retained(any_broker_url, prefix, cams)
    assert late == renewed
    assert all(published_entitlements(late[c]) == database_entitlements(sessions, c) for c in cams)


async def test_soft_declines_then_payment_open_once_paid(
    env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
    devices: Devices,
) -> None:
    product_id = make_product(sessions, cycle="P30D", delays=(1 * HOUR, 2 * HOUR), max_attempts=4)
    (cam,) = make_devices(sessions, owner="bea", count=1)
    contract_id, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="bea",
        product_id=product_id,
        device_ids=(cam,),
        token="sandbox_flaky_2",
    )
    await wait_for_state(handle, lambda s: s.last_decline is not None)
    assert devices.latest(cam) is None  # a declined charge opens nothing
    await env.sleep(timedelta(hours=4))
    paid = await settled(env, handle)
    await devices.state(cam, is_("open", contract_id, paid.paid_through))
    assert len(devices.received[cam]) == 1


async def test_dunning_exhausted_revokes_with_a_higher_version(
    env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
    devices: Devices,
) -> None:
    product_id = make_product(sessions, cycle="P30D", delays=(1 * HOUR,), max_attempts=2)
    cams = make_devices(sessions, owner="cal", count=2)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="cal", product_id=product_id, device_ids=cams
    )
    await settled(env, handle)
    opened = {c: await devices.state(c, is_("open", contract_id)) for c in cams}
    await handle.signal(
        SubscriptionWorkflow.replace_agreement, AgreementReplacement(agreement_token="sandbox_soft_decline")
    )
    await env.sleep(timedelta(days=30, minutes=1))
    await handle.result()
    for cam in cams:
        revoked = await devices.state(cam, is_("revoked", contract_id))
        assert revoked.version > opened[cam].version


async def test_hard_decline_at_renewal_revokes(
    env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
    devices: Devices,
) -> None:
    product_id = make_product(sessions, cycle="P30D")
    (cam,) = make_devices(sessions, owner="dot", count=1)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="dot", product_id=product_id, device_ids=(cam,)
    )
    first = await settled(env, handle)
    opened = await devices.state(cam, is_("open", contract_id))
    await handle.signal(
        SubscriptionWorkflow.replace_agreement, AgreementReplacement(agreement_token="sandbox_hard_decline")
    )
    await env.sleep(timedelta(days=30, minutes=1))
    await handle.result()
    revoked = await devices.state(cam, is_("revoked", contract_id, first.paid_through))
    assert revoked.version > opened.version


async def test_removed_and_unbound_devices_are_revoked_and_an_added_one_opens(
    env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
    devices: Devices,
) -> None:
    product_id = make_product(sessions, cycle="P30D")
    cams = make_devices(sessions, owner="hal", count=4)
    kept, removed, unbound, added = cams
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="hal", product_id=product_id, device_ids=(kept, removed, unbound)
    )
    first = await settled(env, handle)
    opened = {c: await devices.state(c, is_("open", contract_id)) for c in (kept, removed, unbound)}
    await handle.signal(SubscriptionWorkflow.device_removed, DeviceChange(device_id=removed))
    await handle.signal(SubscriptionWorkflow.device_added, DeviceChange(device_id=added))
    await wait_for_state(handle, lambda s: s.pending_additions == (added,))
    unbind(sessions, unbound)
    await env.sleep(timedelta(days=30, minutes=1))
    second = await settled(env, handle)

    for cam in (removed, unbound):
        revoked = await devices.state(cam, is_("revoked", contract_id, first.paid_through))
        assert revoked.version > opened[cam].version
    extended = await devices.state(kept, is_("open", contract_id, second.paid_through))
    assert extended.version > opened[kept].version
    await devices.state(added, is_("open", contract_id, second.paid_through))


async def test_cancel_at_period_end_revokes_at_the_end_and_immediately_revokes_now(
    env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
    devices: Devices,
) -> None:
    product_id = make_product(sessions, cycle="P30D")
    at_end, now = make_devices(sessions, owner="max", count=2)
    ending, ending_handle = await start_subscription(
        env, task_queue=task_queue, user_id="max", product_id=product_id, device_ids=(at_end,)
    )
    canceled, canceled_handle = await start_subscription(
        env, task_queue=task_queue, user_id="max", product_id=product_id, device_ids=(now,)
    )
    first = await settled(env, ending_handle)
    await settled(env, canceled_handle)
    opened = {
        at_end: await devices.state(at_end, is_("open", ending)),
        now: await devices.state(now, is_("open", canceled)),
    }

    # Canceled first at period end: waiting on a workflow's result lets the test server skip time, and
    # the other subscription would renew.
    await ending_handle.signal(SubscriptionWorkflow.cancel, CancelRequest())
    await wait_for_state(ending_handle, lambda s: s.status.value == "canceling")
    # Still open while paid for: nothing changed for the device yet.
    assert devices.latest(at_end) == opened[at_end]

    await canceled_handle.signal(SubscriptionWorkflow.cancel, CancelRequest(mode=CancelMode.IMMEDIATELY))
    await canceled_handle.result()
    revoked_now = await devices.state(now, is_("revoked", canceled))
    assert revoked_now.version > opened[now].version
    assert first.paid_through is not None
    assert entitlement(revoked_now, canceled).paid_through < first.paid_through

    await ending_handle.result()
    revoked_at_end = await devices.state(at_end, is_("revoked", ending, first.paid_through))
    assert revoked_at_end.version > opened[at_end].version
