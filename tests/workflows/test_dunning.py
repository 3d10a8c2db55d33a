"""Seed claim 5: a declined charge is retried after the product's delays until it succeeds; past the
threshold, or on a hard decline, the contract ends."""

from __future__ import annotations

from datetime import timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory
from models.enums import AttemptStatus, EntitlementStatus, PlanStatus, SubscriptionStatus
from models.messages import AgreementReplacement
from tests.fixtures.sandbox import SandboxGateway
from tests.support.factories import HOUR, make_devices, make_product
from tests.support.records import ledger_periods, records
from tests.support.temporal import settled, start_subscription, wait_for_state
from workflows.subscription import SubscriptionWorkflow


async def timer_durations(handle: WorkflowHandle[SubscriptionWorkflow, object]) -> list[timedelta]:
    durations: list[timedelta] = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            durations.append(event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta())
    return durations


async def test_soft_declines_retry_after_each_delay_then_fail_the_signup(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, delays=(1 * HOUR, 3 * HOUR), max_attempts=3)
    devices = make_devices(sessions, owner="erin", count=2)
    contract_id, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="erin",
        product_id=product_id,
        device_ids=devices,
        token="sandbox_soft_decline",
    )
    final = await handle.result()

    assert final.status is SubscriptionStatus.FAILED
    assert final.termination_reason == "dunning_exhausted:3_attempts"
    assert final.last_decline is not None and final.last_decline.code == "insufficient_funds"
    assert await timer_durations(handle) == [timedelta(hours=1), timedelta(hours=3)]
    saved = records(sessions, contract_id)
    assert [(a.attempt, a.status) for a in saved.attempts] == [
        (1, AttemptStatus.DECLINED),
        (2, AttemptStatus.DECLINED),
        (3, AttemptStatus.DECLINED),
    ]
    assert len({a.idempotency_key for a in saved.attempts}) == 3
    assert saved.entitlements == {}
    assert ledger_periods(sandbox_gateway.ledger(contract_id)) == [(0, "declined")] * 3


async def test_flaky_card_is_paid_on_the_third_attempt_of_every_period(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, cycle="P30D", delays=(1 * HOUR, 2 * HOUR), max_attempts=4)
    devices = make_devices(sessions, owner="fay", count=1)
    contract_id, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="fay",
        product_id=product_id,
        device_ids=devices,
        token="sandbox_flaky_2",
    )
    await env.sleep(timedelta(hours=4))
    first = await settled(env, handle)
    assert (first.status, first.period) == (SubscriptionStatus.ACTIVE, 0)
    await env.sleep(timedelta(days=30, hours=4))
    second = await settled(env, handle)
    assert (second.status, second.period) == (SubscriptionStatus.ACTIVE, 1)

    saved = records(sessions, contract_id)
    assert [(a.period, a.attempt, a.status) for a in saved.attempts] == [
        (0, 1, AttemptStatus.DECLINED),
        (0, 2, AttemptStatus.DECLINED),
        (0, 3, AttemptStatus.SUCCEEDED),
        (1, 1, AttemptStatus.DECLINED),
        (1, 2, AttemptStatus.DECLINED),
        (1, 3, AttemptStatus.SUCCEEDED),
    ]
    assert [p.status for p in saved.plans] == [PlanStatus.PAID, PlanStatus.PAID]
    assert ledger_periods(sandbox_gateway.ledger(contract_id)) == (
        [(0, "declined")] * 2 + [(0, "succeeded")] + [(1, "declined")] * 2 + [(1, "succeeded")]
    )


async def test_renewal_declined_past_threshold_terminates_and_keeps_nothing_beyond_paid_through(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, cycle="P30D", delays=(1 * HOUR,), max_attempts=2)
    devices = make_devices(sessions, owner="gus", count=2)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="gus", product_id=product_id, device_ids=devices
    )
    first = await settled(env, handle)
    await handle.signal(
        SubscriptionWorkflow.replace_agreement, AgreementReplacement(agreement_token="sandbox_soft_decline")
    )

    await env.sleep(timedelta(days=30, minutes=1))
    past_due = await wait_for_state(handle, lambda s: s.status is SubscriptionStatus.PAST_DUE)
    assert past_due.last_decline is not None and past_due.last_decline.kind == "soft"
    assert past_due.paid_through == first.paid_through
    final = await handle.result()

    assert final.status is SubscriptionStatus.TERMINATED
    assert final.termination_reason == "dunning_exhausted:2_attempts"
    saved = records(sessions, contract_id)
    assert saved.contract is not None and saved.contract.agreement_status == "released"
    assert all(e.valid_until == first.paid_through for e in saved.entitlements.values())
    assert all(e.status is EntitlementStatus.REVOKED for e in saved.entitlements.values())
    assert "agreement_replaced" in saved.event_kinds


async def test_hard_decline_ends_without_retry(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, delays=(1 * HOUR,), max_attempts=5)
    devices = make_devices(sessions, owner="hal", count=1)
    contract_id, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="hal",
        product_id=product_id,
        device_ids=devices,
        token="sandbox_hard_decline",
    )
    final = await handle.result()

    assert final.status is SubscriptionStatus.FAILED
    assert final.termination_reason == "hard_decline:agreement_revoked"
    assert await timer_durations(handle) == []
    assert ledger_periods(sandbox_gateway.ledger(contract_id)) == [(0, "declined")]
