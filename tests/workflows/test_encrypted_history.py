"""A subscription run through the encryption codec: its history holds no agreement token, replays through
the codec, and stays readable after a key rotation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from infra import temporal
from infra.codec import EncryptionCodec, new_payload_key, parse_payload_keys
from infra.db import SessionFactory
from infra.workflow_runner import workflow_runner
from models.enums import SubscriptionStatus
from tests.fixtures.sandbox import SandboxGateway
from tests.support.factories import make_devices, make_product
from tests.support.temporal import running_worker, settled, start_subscription
from workflows import search_attributes
from workflows.subscription import SubscriptionWorkflow

OLD_KEY = new_payload_key("old")
TOKEN = "sandbox_ok"


@pytest.fixture
async def encrypted_env(
    sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> AsyncIterator[WorkflowEnvironment]:
    codec = EncryptionCodec(parse_payload_keys(OLD_KEY))
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal.test_server_path(), data_converter=temporal.data_converter(codec)
    )
    await temporal.register_search_attributes(env.client, search_attributes.ALL)
    async with running_worker(env, sessions=sessions, gateway_url=sandbox_gateway.url, task_queue=task_queue):
        yield env
    await env.shutdown()


async def replays(history: WorkflowHistory, keys: str) -> bool:
    converter = temporal.data_converter(EncryptionCodec(parse_payload_keys(keys)))
    replayer = Replayer(
        workflows=[SubscriptionWorkflow], data_converter=converter, workflow_runner=workflow_runner(converter)
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    return result.replay_failure is None


async def test_an_encrypted_subscription_hides_its_token_and_replays_across_a_rotation(
    encrypted_env: WorkflowEnvironment, sessions: SessionFactory, task_queue: str
) -> None:
    product_id = make_product(sessions, price=1500, cycle="P30D")
    devices = make_devices(sessions, owner="alice", count=2)
    _, handle = await start_subscription(
        encrypted_env,
        task_queue=task_queue,
        user_id="alice",
        product_id=product_id,
        device_ids=devices,
        token=TOKEN,
    )
    state = await settled(encrypted_env, handle)
    assert state.status is SubscriptionStatus.ACTIVE  # the worker read its encrypted input

    history = await handle.fetch_history()
    raw = history.to_json().encode() + b"".join(event.SerializeToString() for event in history.events)
    assert TOKEN.encode() not in raw
    assert b"binary/encrypted" in raw or b"YmluYXJ5L2VuY3J5cHRlZA" in raw

    assert await replays(history, OLD_KEY)
    assert await replays(history, f"{new_payload_key('new')},{OLD_KEY}")
    assert not await replays(history, new_payload_key("new"))
