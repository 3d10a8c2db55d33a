"""Bad input fails signing with a clear, non-retryable error and writes nothing."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import select
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory, transaction
from models.contract import Contract
from models.entitlement import ContractEvent
from models.names import AGREEMENT_REJECTED, INVALID_SUBSCRIPTION
from tests.fixtures.sandbox import SandboxGateway
from tests.support.factories import discontinue, make_devices, make_product
from tests.support.temporal import start_subscription

CASES = {
    "unknown_product": "unknown_product",
    "empty_devices": "no_devices",
    "duplicate_devices": "duplicate_devices",
    "foreign_device": "unknown_device",
    "unknown_device": "unknown_device",
    "discontinued_product": "product_discontinued",
    "too_many_devices": "too_many_devices",
    "unknown_timezone": "unknown_timezone",
    "billing_day_not_allowed": "billing_day_not_allowed",
    "billing_day_31": "invalid_billing_day",
    "billing_day_on_a_30_day_cycle": "billing_day_needs_monthly_cycle",
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_bad_signup_fails_signing_without_writing_anything(
    case: str,
    env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
) -> None:
    product_id = make_product(sessions, max_devices=2)
    mine = make_devices(sessions, owner="sam", count=3)
    theirs = make_devices(sessions, owner="someone-else", count=1)
    devices, timezone, billing_day = mine[:1], "UTC", None
    if case == "unknown_product":
        product_id = uuid.uuid4()
    elif case == "empty_devices":
        devices = ()
    elif case == "duplicate_devices":
        devices = (mine[0], mine[0])
    elif case == "foreign_device":
        devices = (mine[0], theirs[0])
    elif case == "unknown_device":
        devices = ("cam-does-not-exist",)
    elif case == "discontinued_product":
        discontinue(sessions, product_id)
    elif case == "too_many_devices":
        devices = mine
    elif case == "unknown_timezone":
        timezone = "Mars/Olympus_Mons"
    elif case.startswith("billing_day"):
        # Signing checks the day itself: a workflow can be started without the API's checks.
        billing_day = 31 if case == "billing_day_31" else 15
        if case != "billing_day_not_allowed":
            cycle = "P1M" if case == "billing_day_31" else "P30D"
            product_id = make_product(sessions, cycle=cycle, signup_billing_day_allowed=True)

    contract_id, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="sam",
        product_id=product_id,
        device_ids=devices,
        timezone=timezone,
        billing_day=billing_day,
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == INVALID_SUBSCRIPTION
    assert cause.non_retryable
    assert cause.details[0]["code"] == CASES[case]
    with transaction(sessions) as session:
        assert session.exec(select(Contract)).all() == []
        assert session.exec(select(ContractEvent)).all() == []
    assert sandbox_gateway.ledger(contract_id) == []


async def test_refused_agreement_fails_signing_without_a_contract(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions)
    devices = make_devices(sessions, owner="tia", count=1)
    _, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="tia",
        product_id=product_id,
        device_ids=devices,
        token="sandbox_sign_declined",
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == AGREEMENT_REJECTED
    with transaction(sessions) as session:
        assert session.exec(select(Contract)).all() == []
