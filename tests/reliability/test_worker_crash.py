"""A worker SIGKILLed while a charge is in flight (the gateway committed it and is holding the response back),
then restarted: the retried charge runs again under the same idempotency key, the gateway answers with
the charge it already made, and every period is charged exactly once in the gateway's ledger and in ours."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory, transaction
from models.contract import ChargeAttempt
from models.enums import AttemptStatus
from tests.fixtures.sandbox import SandboxGateway
from tests.reliability.checks import (
    assert_one_charge_per_period,
    assert_reconciles_clean,
    cancel_now,
    wait_for_paid,
    wait_until,
)
from tests.reliability.history import timed_out_tasks
from tests.reliability.services import WorkerConfigFor, Workers
from tests.support.factories import make_devices, make_product
from tests.support.records import records
from tests.support.temporal import start_subscription

KILLED_PERIOD = 1


def attempt_status(sessions: SessionFactory, contract_id: str, period: int) -> AttemptStatus | None:
    with transaction(sessions) as session:
        attempt = session.exec(
            select(ChargeAttempt).where(
                ChargeAttempt.contract_id == uuid.UUID(contract_id), ChargeAttempt.period == period
            )
        ).first()
        return attempt.status if attempt else None


@pytest.mark.timeout(240)
async def test_worker_killed_mid_charge_then_restarted_charges_each_period_once(
    dev_server: WorkflowEnvironment,
    sessions: SessionFactory,
    database_url_for_test: str,
    sandbox: SandboxGateway,
    workers: Workers,
    task_queue: str,
    worker_config: WorkerConfigFor,
) -> None:
    # The worker waits out the sandbox's 3 s lost-response delay: each period's charge is in flight for 3 s.
    config = worker_config(gateway_timeout_seconds=10.0)
    first = workers.start("worker-1", config)
    product_id = make_product(sessions, price=700, cycle="PT3S")
    devices = make_devices(sessions, owner="kai", count=2)
    contract_id, handle = await start_subscription(
        dev_server,
        task_queue=task_queue,
        user_id="kai",
        product_id=product_id,
        device_ids=devices,
        token="sandbox_lost_response",
        periods_per_run=3,
    )

    committed: list[str] = []

    def charge_in_flight() -> bool:
        charged = [c for c in sandbox.ledger(contract_id) if c["reference"]["period"] == KILLED_PERIOD]
        if charged and attempt_status(sessions, contract_id, KILLED_PERIOD) is AttemptStatus.PENDING:
            committed.append(charged[0]["charge_id"])
        return bool(committed)

    await wait_until(charge_in_flight, within=60, interval=0.05, what=f"period {KILLED_PERIOD} in flight")
    first.kill()
    # The kill landed mid-charge: the gateway has the money, our attempt still waits for the answer.
    assert attempt_status(sessions, contract_id, KILLED_PERIOD) is AttemptStatus.PENDING

    workers.start("worker-2", config)
    # The workflow task that ran the killed charge times out (10 s) and runs again on worker-2.
    await wait_for_paid(sessions, {contract_id: KILLED_PERIOD + 3}, within=180)
    [final] = await cancel_now([handle])

    periods = assert_one_charge_per_period(sandbox, sessions, contract_id)
    assert final.periods_charged == periods
    saved = records(sessions, contract_id)
    assert all(a.attempt == 1 for a in saved.attempts)  # retried activities, never a second dunning attempt
    assert saved.attempts[KILLED_PERIOD].gateway_charge_id == committed[0]
    assert await timed_out_tasks(dev_server.client, handle) >= 1  # the one the kill interrupted
    assert_reconciles_clean(database_url_for_test, sandbox)
