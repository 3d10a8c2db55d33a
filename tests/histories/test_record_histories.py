"""Records the histories replayed by test_replay.py. Runs only when asked, naming the release they stand for:

    IOT_BILLING_RECORD_HISTORIES=unreleased .venv/bin/pytest tests/histories/test_record_histories.py

Before 1.0.0 a workflow change re-records the `unreleased` histories; from 1.0.0 on, each release's
histories are kept and every change goes behind `workflow.patched` (docs/evolution.md)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory
from models.enums import CancelMode
from models.messages import CancelRequest, DeviceChange, DeviceChangeRequest
from tests.fixtures.sandbox import SandboxGateway
from tests.support.factories import HOUR, make_devices, make_product
from tests.support.temporal import SubscriptionHandle, running_worker, settled, start_subscription
from workflows.subscription import SubscriptionWorkflow

HERE = Path(__file__).parent
VERSION = os.environ.get("IOT_BILLING_RECORD_HISTORIES", "")
pytestmark = pytest.mark.skipif(not VERSION, reason="records histories only when asked")


async def save(env: WorkflowEnvironment, handle: SubscriptionHandle, name: str) -> None:
    first = await env.client.get_workflow_handle(
        handle.id, run_id=handle.first_execution_run_id
    ).fetch_history()
    (HERE / f"{VERSION}-{name}.first-run.json").write_text(first.to_json())
    if first.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        last = await env.client.get_workflow_handle(handle.id).fetch_history()
        (HERE / f"{VERSION}-{name}.last-run.json").write_text(last.to_json())


async def test_record_lifecycle_histories(
    time_skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
) -> None:
    env = time_skipping_env
    async with running_worker(env, sessions=sessions, gateway_url=sandbox_gateway.url, task_queue=task_queue):
        product_id = make_product(
            sessions, cycle="P30D", delays=(HOUR, 2 * HOUR), max_attempts=4, renewal_notice="P3D"
        )
        devices = make_devices(sessions, owner="rec", count=3)
        _, handle = await start_subscription(
            env,
            task_queue=task_queue,
            user_id="rec",
            product_id=product_id,
            device_ids=devices,
            token="sandbox_flaky_2",
            periods_per_run=2,
        )
        await env.sleep(timedelta(hours=4))
        await settled(env, handle)
        await handle.signal(SubscriptionWorkflow.device_removed, DeviceChange(device_id=devices[0]))
        state = await settled(env, handle)
        while state.periods_charged < 3:
            await env.sleep(timedelta(days=10))
            state = await settled(env, handle)
        await handle.signal(SubscriptionWorkflow.cancel, CancelRequest())
        await handle.result()
        await save(env, handle, "flaky-card-device-removed-continued-canceled")

        _, declined = await start_subscription(
            env,
            task_queue=task_queue,
            user_id="rec",
            product_id=product_id,
            device_ids=devices[1:],
            token="sandbox_soft_decline",
        )
        await declined.result()
        await save(env, declined, "soft-decline-dunning-exhausted")

        bad = make_product(sessions, max_devices=1)
        _, invalid = await start_subscription(
            env, task_queue=task_queue, user_id="rec", product_id=bad, device_ids=devices[1:]
        )
        with pytest.raises(WorkflowFailureError):
            await invalid.result()
        await save(env, invalid, "invalid-signup")


async def test_record_update_history(
    dev_server_env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
) -> None:
    env = dev_server_env
    async with running_worker(env, sessions=sessions, gateway_url=sandbox_gateway.url, task_queue=task_queue):
        product_id = make_product(sessions, cycle="P30D")
        devices = make_devices(sessions, owner="rec", count=3)
        _, handle = await start_subscription(
            env, task_queue=task_queue, user_id="rec", product_id=product_id, device_ids=devices[:2]
        )
        await handle.execute_update(SubscriptionWorkflow.signup_outcome)
        await handle.execute_update(
            SubscriptionWorkflow.change_devices, DeviceChangeRequest(add=(devices[2],))
        )
        await handle.execute_update(SubscriptionWorkflow.request_cancel, CancelRequest())
        await handle.execute_update(
            SubscriptionWorkflow.request_cancel, CancelRequest(mode=CancelMode.IMMEDIATELY)
        )
        await handle.result()
        await save(env, handle, "updates-signup-devices-cancel")
