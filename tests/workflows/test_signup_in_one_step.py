"""Signing and the first charge in one local activity: the charge it could not make is made by a step of its
own, once; a retried signup step charges nothing twice."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.billing import BillingActivities
from gateway.http_client import HttpPaymentGateway
from gateway.protocol import ChargeReference, ChargeResult, GatewayUnavailable
from infra.db import SessionFactory
from models.enums import SubscriptionStatus
from models.messages import DeviceChange, SignContractInput
from models.money import Money
from models.names import SIGN_AND_SETTLE_FIRST
from tests.fixtures.sandbox import SandboxGateway
from tests.reliability.checks import assert_one_charge_per_period
from tests.reliability.history import local_activity_data, local_activity_result
from tests.support.factories import make_devices, make_product
from tests.support.records import records
from tests.support.temporal import running_worker, settled, start_subscription
from workflows.constants import subscription_workflow_id
from workflows.subscription import SubscriptionWorkflow


class ScriptedCharges(HttpPaymentGateway):
    """The real HTTP client, whose first `failures` charges fail as an unreachable gateway would. Before the
    first charge goes out, it runs `during` (a coroutine, on the test's loop, from the activity's thread),
    then holds the charge for `hold_seconds`."""

    def __init__(self, url: str, *, failures: int = 0) -> None:
        super().__init__(url, timeout_seconds=1.5)
        self.failures = failures
        self.charges = 0
        self.during: Callable[[], Coroutine[Any, Any, None]] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.hold_seconds = 0.0

    def charge(
        self, *, agreement_id: str, amount: Money, idempotency_key: str, reference: ChargeReference
    ) -> ChargeResult:
        self.charges += 1
        if self.during is not None and self.loop is not None:
            during, self.during = self.during, None
            asyncio.run_coroutine_threadsafe(during(), self.loop).result(timeout=10)
            time.sleep(self.hold_seconds)
        if self.charges <= self.failures:
            raise GatewayUnavailable("connection refused (test)")
        return super().charge(
            agreement_id=agreement_id, amount=amount, idempotency_key=idempotency_key, reference=reference
        )


async def test_a_first_charge_failing_with_signing_is_made_by_its_own_step_once(
    time_skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
) -> None:
    env = time_skipping_env
    gateway = ScriptedCharges(sandbox_gateway.url, failures=1)
    product_id = make_product(sessions, cycle="P30D")
    devices = make_devices(sessions, owner="ona", count=2)
    async with running_worker(
        env, sessions=sessions, gateway_url=sandbox_gateway.url, task_queue=task_queue, gateway=gateway
    ):
        contract_id, handle = await start_subscription(
            env, task_queue=task_queue, user_id="ona", product_id=product_id, device_ids=devices
        )
        state = await settled(env, handle)
        history = (await handle.fetch_history()).events

    assert state.status is SubscriptionStatus.ACTIVE and state.periods_charged == 1
    steps = [
        (data["activity_type"], local_activity_result(e)) for e in history if (data := local_activity_data(e))
    ]
    (signup, signup_result), (charge, charge_result) = steps
    assert signup == SIGN_AND_SETTLE_FIRST and signup_result is not None and signup_result["first"] is None
    assert charge == "settle_period" and charge_result is not None and charge_result["kind"] == "paid"
    assert gateway.charges == 2  # the failed one and its retry, under one idempotency key
    assert assert_one_charge_per_period(sandbox_gateway, sessions, contract_id) == 1


def test_a_retried_signup_step_answers_as_the_first_and_charges_once(
    sessions: SessionFactory, sandbox_gateway: SandboxGateway
) -> None:
    gateway = ScriptedCharges(sandbox_gateway.url)
    acts = BillingActivities(sessions, gateway)
    request = SignContractInput(
        contract_id=str(uuid.uuid4()),
        user_id="ole",
        product_id=str(make_product(sessions, price=700)),
        device_ids=make_devices(sessions, owner="ole", count=2),
        agreement_token="sandbox_ok",
        requested_at=datetime.now(UTC),
    )
    try:
        first = ActivityEnvironment().run(acts.sign_and_settle_first, request)
        again = ActivityEnvironment().run(acts.sign_and_settle_first, request)
    finally:
        gateway.close()

    assert first.first is not None and first.first.kind == "paid"
    assert first.first.amount is not None and first.first.amount.amount_minor == 1400
    assert again.signed == first.signed
    assert again.first is not None and again.first.charge_id == first.first.charge_id
    assert gateway.charges == 1  # the retry found the period paid and did not call the gateway
    assert assert_one_charge_per_period(sandbox_gateway, sessions, first.signed.contract_id) == 1


async def test_a_device_removed_during_the_signup_step_leaves_at_the_next_period(
    time_skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
) -> None:
    env = time_skipping_env
    gateway = ScriptedCharges(sandbox_gateway.url)
    product_id = make_product(sessions, price=1000, cycle="P30D")
    devices = make_devices(sessions, owner="oda", count=2)
    contract_id = str(uuid.uuid4())

    async def remove_first_device() -> None:
        handle = env.client.get_workflow_handle(subscription_workflow_id(contract_id))
        await handle.signal(SubscriptionWorkflow.device_removed, DeviceChange(device_id=devices[0]))

    gateway.during, gateway.loop = remove_first_device, asyncio.get_running_loop()
    # Longer than most of the workflow task's timeout: the worker reports the task still running and is given
    # the signal while the signup step still runs.
    gateway.hold_seconds = 9
    async with running_worker(
        env, sessions=sessions, gateway_url=sandbox_gateway.url, task_queue=task_queue, gateway=gateway
    ):
        _, handle = await start_subscription(
            env,
            task_queue=task_queue,
            user_id="oda",
            product_id=product_id,
            device_ids=devices,
            contract_id=contract_id,
        )
        signed_up = await settled(env, handle)
        await env.sleep(timedelta(days=31))
        renewed = await settled(env, handle)

    # The first period was charged for the group as signed up, and the removal was not lost.
    assert signed_up.periods_charged == 1 and signed_up.device_ids == devices
    assert signed_up.pending_removals == (devices[0],)
    assert renewed.periods_charged == 2 and renewed.device_ids == (devices[1],)
    plans = records(sessions, contract_id).plans
    assert [(p.period, tuple(p.device_ids), p.amount_minor) for p in plans] == [
        (0, devices, 2000),
        (1, (devices[1],), 1000),
    ]
    assert assert_one_charge_per_period(sandbox_gateway, sessions, contract_id) == 2
