"""Vouchers paying towards subscriptions: the discount applies to the periods it covers, the claim is used
and redeemed_count rises only when a covered charge succeeds, and a signup that fails gives it back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory, transaction
from models.enums import SubscriptionStatus
from models.voucher import VoucherClaim
from tests.fixtures.sandbox import SandboxGateway
from tests.support.factories import make_devices, make_product
from tests.support.records import ledger_periods, records
from tests.support.temporal import settled, start_subscription
from tests.vouchers.support import make_voucher, reload
from vouchers.claims import claim_voucher


def claim_for(sessions: SessionFactory, voucher_id: uuid.UUID, user_id: str) -> uuid.UUID:
    with transaction(sessions) as session:
        return claim_voucher(session, voucher_id=voucher_id, user_id=user_id, now=datetime.now(UTC)).claim.id


def claim_row(sessions: SessionFactory, claim_id: uuid.UUID) -> VoucherClaim:
    with transaction(sessions) as session:
        claim = session.get(VoucherClaim, claim_id)
    assert claim is not None
    return claim


async def test_percent_voucher_discounts_its_period_and_is_redeemed_by_the_charge(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, price=2000, cycle="P30D")
    voucher = make_voucher(sessions, type="percent_off", value=25, product_ids=[product_id])
    claim_id = claim_for(sessions, voucher.id, "wes")
    devices = make_devices(sessions, owner="wes", count=2)
    contract_id, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="wes",
        product_id=product_id,
        device_ids=devices,
        voucher_claim_id=claim_id,
    )
    await settled(env, handle)
    assert claim_row(sessions, claim_id).status == "used"
    assert reload(sessions, voucher.id).redeemed_count == 1
    await env.sleep(timedelta(days=30, minutes=1))
    await settled(env, handle)

    saved = records(sessions, contract_id)
    assert [(p.gross_minor, p.discount_minor, p.amount_minor) for p in saved.plans] == [
        (4000, 1000, 3000),
        (4000, 0, 4000),
    ]
    assert reload(sessions, voucher.id).redeemed_count == 1


async def test_free_period_voucher_pays_two_periods_without_charging(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, price=1500, cycle="P30D")
    voucher = make_voucher(sessions, type="free_periods", value=2, product_ids=[product_id])
    claim_id = claim_for(sessions, voucher.id, "xia")
    devices = make_devices(sessions, owner="xia", count=1)
    contract_id, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="xia",
        product_id=product_id,
        device_ids=devices,
        voucher_claim_id=claim_id,
    )
    state = await settled(env, handle)
    while state.periods_charged < 3:
        await env.sleep(timedelta(days=30, minutes=1))
        state = await settled(env, handle)

    saved = records(sessions, contract_id)
    assert [p.amount_minor for p in saved.plans] == [0, 0, 1500]
    assert [a.gateway_charge_id is None for a in saved.attempts] == [True, True, False]
    assert ledger_periods(sandbox_gateway.ledger(contract_id)) == [(2, "succeeded")]
    assert saved.entitlements[devices[0]].valid_until == state.paid_through
    assert reload(sessions, voucher.id).redeemed_count == 1


async def test_failed_signup_gives_the_claim_back_unchanged(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions, price=1500)
    voucher = make_voucher(sessions, type="amount_off", value=500, currency="CNY", product_ids=[product_id])
    claim_id = claim_for(sessions, voucher.id, "yan")
    devices = make_devices(sessions, owner="yan", count=1)
    _, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="yan",
        product_id=product_id,
        device_ids=devices,
        token="sandbox_hard_decline",
        voucher_claim_id=claim_id,
    )
    final = await handle.result()

    assert final.status is SubscriptionStatus.FAILED
    claim = claim_row(sessions, claim_id)
    assert (claim.status, claim.contract_id) == ("claimed", None)
    assert reload(sessions, voucher.id).redeemed_count == 0


async def test_someone_elses_claim_fails_signing_and_stays_theirs(
    env: WorkflowEnvironment, sessions: SessionFactory, sandbox_gateway: SandboxGateway, task_queue: str
) -> None:
    product_id = make_product(sessions)
    voucher = make_voucher(sessions, product_ids=[product_id])
    claim_id = claim_for(sessions, voucher.id, "owner-of-claim")
    devices = make_devices(sessions, owner="zed", count=1)
    _, handle = await start_subscription(
        env,
        task_queue=task_queue,
        user_id="zed",
        product_id=product_id,
        device_ids=devices,
        voucher_claim_id=claim_id,
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.details[0]["field"] == "voucher_claim_id"
    claim = claim_row(sessions, claim_id)
    assert (claim.status, claim.contract_id, claim.user_id) == ("claimed", None, "owner-of-claim")
