"""The payment gateway goes away for several periods: charges wait (their attempts written, the charge
retrying) and nothing is charged meanwhile; when it returns, every period that fell due is charged once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory, transaction
from models.contract import ChargeAttempt, Contract
from models.enums import AttemptStatus
from tests.fixtures.sandbox import SandboxGateway
from tests.reliability.checks import (
    assert_one_charge_per_period,
    assert_reconciles_clean,
    cancel_now,
    wait_for_paid,
)
from tests.reliability.history import retried_charges
from tests.reliability.services import WorkerConfigFor, Workers
from tests.support.factories import make_devices, make_product
from tests.support.records import records
from tests.support.temporal import start_subscription

CYCLE = timedelta(seconds=2)
OUTAGE_SECONDS = 8.0


def periods_due(sessions: SessionFactory, contract_id: str, at: datetime) -> int:
    with transaction(sessions) as session:
        contract = session.get(Contract, uuid.UUID(contract_id))
        assert contract is not None
        return (at - contract.anchor_at) // CYCLE + 1


def pending_attempts(sessions: SessionFactory, contract_ids: list[str]) -> set[str]:
    with transaction(sessions) as session:
        rows = session.exec(
            select(ChargeAttempt.contract_id).where(
                col(ChargeAttempt.contract_id).in_([uuid.UUID(c) for c in contract_ids]),
                col(ChargeAttempt.status) == AttemptStatus.PENDING,
            )
        )
        return {str(contract_id) for contract_id in rows}


@pytest.mark.timeout(180)
async def test_gateway_outage_then_every_due_period_charged_once(
    dev_server: WorkflowEnvironment,
    sessions: SessionFactory,
    database_url_for_test: str,
    sandbox: SandboxGateway,
    workers: Workers,
    task_queue: str,
    worker_config: WorkerConfigFor,
) -> None:
    config = worker_config(gateway_timeout_seconds=1.0)
    workers.start("worker", config)
    product_id = make_product(sessions, price=500, cycle="PT2S")
    started = [
        await start_subscription(
            dev_server,
            task_queue=task_queue,
            user_id=owner,
            product_id=product_id,
            device_ids=make_devices(sessions, owner=owner, count=2),
        )
        for owner in ("ada", "bo", "cy")
    ]
    ids = [contract_id for contract_id, _ in started]
    await wait_for_paid(sessions, dict.fromkeys(ids, 2), within=60)

    sandbox.stop()
    down_at = datetime.now(UTC)
    charged = {c: len(sandbox.ledger(c)) for c in ids}
    await asyncio.sleep(OUTAGE_SECONDS)
    assert {c: len(sandbox.ledger(c)) for c in ids} == charged  # the ledger stays readable while it is down
    assert pending_attempts(sessions, ids) == set(ids)  # each waits at its next period, attempt written
    # Read before starting it: `start` returns once the gateway is healthy, and a retry may already have
    # been answered by then.
    up_at = datetime.now(UTC)
    sandbox.start()

    due = {c: periods_due(sessions, c, up_at) for c in ids}
    await wait_for_paid(sessions, due, within=90, what="every period due when the gateway returned")
    await cancel_now(handle for _, handle in started)

    for contract_id in ids:
        assert assert_one_charge_per_period(sandbox, sessions, contract_id) >= due[contract_id]
        saved = records(sessions, contract_id)
        assert all(a.attempt == 1 and a.status is AttemptStatus.SUCCEEDED for a in saved.attempts)
        waited = [p for p in saved.plans if down_at <= p.due_at < up_at]
        assert len(waited) >= 3, "periods fell due during the outage"
        assert all(p.paid_at is not None and p.paid_at >= up_at for p in waited)
    for _, handle in started:
        assert await retried_charges(dev_server.client, handle) >= 1  # the charge that waited out the outage
    assert_reconciles_clean(database_url_for_test, sandbox)
