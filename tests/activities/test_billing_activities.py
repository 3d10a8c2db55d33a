"""The activities against real PostgreSQL and the sandbox gateway: every one safe to retry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlmodel import select
from temporalio.testing import ActivityEnvironment

from activities.billing import BillingActivities
from activities.signing import sign_contract
from gateway.http_client import HttpPaymentGateway
from gateway.protocol import ChargeReference, ChargeResult, GatewayUnavailable
from infra.db import SessionFactory, transaction
from models.entitlement import Entitlement
from models.enums import AttemptStatus, EntitlementStatus, SubscriptionStatus
from models.messages import FinishInput, SettleOutcome, SettlePeriodInput, SignContractInput, SignedContract
from models.money import Money
from tests.fixtures.sandbox import SandboxGateway
from tests.support.factories import make_devices, make_product
from tests.support.records import ledger_periods, records


class CountingGateway(HttpPaymentGateway):
    """The real HTTP client, counting charge calls (to show a replay never reaches the gateway)."""

    charges = 0

    def charge(
        self, *, agreement_id: str, amount: Money, idempotency_key: str, reference: ChargeReference
    ) -> ChargeResult:
        self.charges += 1
        return super().charge(
            agreement_id=agreement_id, amount=amount, idempotency_key=idempotency_key, reference=reference
        )


@pytest.fixture
def gateway(sandbox_gateway: SandboxGateway) -> Iterator[CountingGateway]:
    client = CountingGateway(sandbox_gateway.url, timeout_seconds=1.5)
    yield client
    client.close()


@pytest.fixture
def acts(sessions: SessionFactory, gateway: CountingGateway) -> BillingActivities:
    return BillingActivities(sessions, gateway)


def sign(gateway: CountingGateway, sessions: SessionFactory, token: str) -> SignedContract:
    product_id = make_product(sessions, price=800)
    devices = make_devices(sessions, owner="vic", count=2)
    request = SignContractInput(
        contract_id=str(uuid.uuid4()),
        user_id="vic",
        product_id=str(product_id),
        device_ids=devices,
        agreement_token=token,
        requested_at=datetime.now(UTC),
    )
    return sign_contract(sessions=sessions, gateway=gateway, request=request)


def settle(acts: BillingActivities, signed: SignedContract, period: int = 0) -> SettleOutcome:
    request = SettlePeriodInput(
        contract_id=signed.contract_id,
        period=period,
        attempt=1,
        device_ids=signed.device_ids,
        due_at=signed.anchor_at,
    )
    return ActivityEnvironment().run(acts.settle_period, request)


def test_sign_contract_retried_returns_the_same_contract_and_agreement(
    acts: BillingActivities, sessions: SessionFactory, gateway: CountingGateway
) -> None:
    signed = sign(gateway, sessions, "sandbox_ok")
    request = SignContractInput(
        contract_id=signed.contract_id,
        user_id="vic",
        product_id=str(uuid.uuid4()),
        device_ids=signed.device_ids,
        agreement_token="sandbox_ok",
        requested_at=datetime.now(UTC),
    )
    again = sign_contract(sessions=sessions, gateway=gateway, request=request)
    assert again == signed
    assert records(sessions, signed.contract_id).event_kinds == ["signed"]


def test_settle_retried_after_gateway_committed_records_the_same_charge(
    acts: BillingActivities,
    sessions: SessionFactory,
    gateway: CountingGateway,
    sandbox_gateway: SandboxGateway,
) -> None:
    signed = sign(gateway, sessions, "sandbox_lost_response")
    with pytest.raises(GatewayUnavailable):
        settle(acts, signed)
    pending = records(sessions, signed.contract_id)
    assert [(a.attempt, a.status) for a in pending.attempts] == [(1, AttemptStatus.PENDING)]

    outcome = settle(acts, signed)

    ledger = sandbox_gateway.ledger(signed.contract_id)
    assert ledger_periods(ledger) == [(0, "succeeded")]
    assert outcome.charge_id == ledger[0]["charge_id"]
    saved = records(sessions, signed.contract_id)
    assert [(a.attempt, a.status, a.gateway_charge_id) for a in saved.attempts] == [
        (1, AttemptStatus.SUCCEEDED, ledger[0]["charge_id"])
    ]


def test_settle_of_a_paid_period_answers_from_the_database_without_charging(
    acts: BillingActivities, sessions: SessionFactory, gateway: CountingGateway
) -> None:
    signed = sign(gateway, sessions, "sandbox_ok")
    first = settle(acts, signed)
    assert gateway.charges == 1
    again = settle(acts, signed)
    # The same outcome, answered again (later, so its answer time is its own).
    assert first.answered_at is not None and again.answered_at is not None
    assert again.answered_at >= first.answered_at
    assert again.model_copy(update={"answered_at": None}) == first.model_copy(update={"answered_at": None})
    assert gateway.charges == 1
    assert records(sessions, signed.contract_id).event_kinds.count("period_paid") == 1


def test_finish_contract_twice_is_harmless(
    acts: BillingActivities,
    sessions: SessionFactory,
    gateway: CountingGateway,
    sandbox_gateway: SandboxGateway,
) -> None:
    signed = sign(gateway, sessions, "sandbox_ok")
    settle(acts, signed)
    finish = FinishInput(
        contract_id=signed.contract_id,
        status=SubscriptionStatus.CANCELED,
        reason="user_request",
        revoke_at=datetime.now(UTC),
    )
    ActivityEnvironment().run(acts.finish_contract, finish)
    ActivityEnvironment().run(acts.finish_contract, finish)
    saved = records(sessions, signed.contract_id)
    assert saved.contract is not None
    assert (saved.contract.status, saved.contract.agreement_status) == (
        SubscriptionStatus.CANCELED,
        "released",
    )
    assert saved.event_kinds.count("canceled") == 1
    assert all(e.status is EntitlementStatus.REVOKED for e in saved.entitlements.values())


def test_a_paid_period_never_shortens_an_entitlement_granted_further(
    acts: BillingActivities, sessions: SessionFactory, gateway: CountingGateway
) -> None:
    signed = sign(gateway, sessions, "sandbox_ok")
    contract_id = uuid.UUID(signed.contract_id)
    kept, extended = signed.device_ids
    later = datetime(2099, 1, 1, tzinfo=UTC)
    with transaction(sessions) as session:
        session.add(
            Entitlement(
                contract_id=contract_id,
                device_id=extended,
                resource_type="video",
                valid_from=signed.anchor_at,
                valid_until=later,
                status=EntitlementStatus.REVOKED,
                revoke_reason="test",
            )
        )
    outcome = settle(acts, signed)
    assert outcome.kind == "paid"
    with transaction(sessions) as session:
        rows = session.exec(select(Entitlement).where(Entitlement.contract_id == contract_id)).all()
    granted = {r.device_id: (r.valid_until, r.status, r.revoke_reason) for r in rows}
    assert granted == {
        kept: (outcome.period_end, EntitlementStatus.ACTIVE, None),
        extended: (later, EntitlementStatus.ACTIVE, None),
    }
