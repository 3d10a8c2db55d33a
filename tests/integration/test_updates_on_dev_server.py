"""Updates on the real dev server (the time-skipping server does not skip time while an update waits):
signup outcome, cancel with its validator, device changes with theirs, and the full-state query."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory
from models.enums import CancelMode, SubscriptionStatus
from models.messages import CancelRequest, DeviceChangeRequest
from models.names import INVALID_DEVICE_CHANGE
from tests.fixtures.sandbox import SandboxGateway
from tests.support.factories import make_devices, make_product
from tests.support.temporal import running_worker, start_subscription
from workflows.subscription import SubscriptionWorkflow


@pytest.fixture
async def env(
    dev_server_env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
) -> AsyncIterator[WorkflowEnvironment]:
    async with running_worker(
        dev_server_env, sessions=sessions, gateway_url=sandbox_gateway.url, task_queue=task_queue
    ):
        yield dev_server_env


async def test_updates_answer_signup_change_devices_and_cancel(
    env: WorkflowEnvironment, sessions: SessionFactory, task_queue: str
) -> None:
    product_id = make_product(sessions, price=700, cycle="P30D", max_devices=3)
    devices = make_devices(sessions, owner="uma", count=4)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="uma", product_id=product_id, device_ids=devices[:2]
    )

    signup = await handle.execute_update(SubscriptionWorkflow.signup_outcome)
    assert signup.status is SubscriptionStatus.ACTIVE
    assert signup.period == 0 and signup.periods_charged == 1

    changed = await handle.execute_update(
        SubscriptionWorkflow.change_devices, DeviceChangeRequest(add=(devices[2],), remove=(devices[0],))
    )
    assert changed.pending_additions == (devices[2],)
    assert changed.pending_removals == (devices[0],)

    for bad, code in [
        (DeviceChangeRequest(add=(devices[1],)), "device_already_in_group"),
        (DeviceChangeRequest(remove=("cam-unknown",)), "device_not_in_group"),
        (DeviceChangeRequest(add=(devices[0], devices[3])), "too_many_devices"),
    ]:
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await handle.execute_update(SubscriptionWorkflow.change_devices, bad)
        cause = rejected.value.cause
        assert isinstance(cause, ApplicationError)
        assert (cause.type, cause.details[0]["code"]) == (INVALID_DEVICE_CHANGE, code)

    state = await handle.query(SubscriptionWorkflow.state)
    assert state.contract_id == contract_id
    assert state.user_id == "uma"
    assert state.next_charge_at == state.paid_through

    canceling = await handle.execute_update(SubscriptionWorkflow.request_cancel, CancelRequest())
    assert canceling.status is SubscriptionStatus.CANCELING
    again = await handle.execute_update(SubscriptionWorkflow.request_cancel, CancelRequest())
    assert again.status is SubscriptionStatus.CANCELING
    canceled = await handle.execute_update(
        SubscriptionWorkflow.request_cancel, CancelRequest(mode=CancelMode.IMMEDIATELY)
    )
    assert canceled.status is SubscriptionStatus.CANCELED
    assert (await handle.result()).status is SubscriptionStatus.CANCELED
