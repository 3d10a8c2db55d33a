"""Every scripted token, idempotency and the cap, through the real client against the sandbox process."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.http_client import GatewayProblem, HttpPaymentGateway
from gateway.protocol import (
    AgreementStatus,
    ChargeReference,
    ChargeResult,
    ChargeStatus,
    DeclineKind,
    GatewayUnavailable,
)
from models.money import Money
from tests.fixtures.sandbox import CLIENT_TIMEOUT_SECONDS, SandboxGateway
from tests.gateway.support import CAP, PRICE, SignAgreement, charge


def _decline(result: ChargeResult) -> tuple[ChargeStatus, str | None, DeclineKind | None]:
    return result.status, result.decline_code, result.decline_kind


SOFT = (ChargeStatus.DECLINED, "insufficient_funds", DeclineKind.SOFT)
SUCCEEDED = (ChargeStatus.SUCCEEDED, None, None)


def test_ok_token_charge_succeeds_and_is_recorded_with_its_reference(
    sign: SignAgreement,
    gateway_client: HttpPaymentGateway,
    sandbox_gateway: SandboxGateway,
    contract_id: str,
) -> None:
    agreement = sign("sandbox_ok")
    result = charge(gateway_client, agreement, contract_id, period=3, attempt=2)

    assert _decline(result) == SUCCEEDED
    assert result.amount == PRICE
    [row] = sandbox_gateway.ledger(contract_id)
    assert row["charge_id"] == result.charge_id
    assert row["agreement_id"] == agreement.agreement_id
    assert row["idempotency_key"] == f"{contract_id}:3:2"
    assert row["reference"] == {"contract_id": contract_id, "period": 3, "attempt": 2}
    assert row["amount"] == {"amount_minor": PRICE.amount_minor, "currency": "USD"}


def test_soft_decline_token_declines_soft_and_leaves_the_agreement_active(
    sign: SignAgreement, gateway_client: HttpPaymentGateway, contract_id: str
) -> None:
    agreement = sign("sandbox_soft_decline")
    results = [charge(gateway_client, agreement, contract_id, attempt=n) for n in (1, 2)]
    assert [_decline(result) for result in results] == [SOFT, SOFT]
    assert gateway_client.get_agreement(agreement_id=agreement.agreement_id).status is AgreementStatus.ACTIVE


def test_hard_decline_token_declines_hard_and_revokes_the_agreement(
    sign: SignAgreement, gateway_client: HttpPaymentGateway, contract_id: str
) -> None:
    agreement = sign("sandbox_hard_decline")
    result = charge(gateway_client, agreement, contract_id)
    after = charge(gateway_client, agreement, contract_id, attempt=2)

    assert _decline(result) == (ChargeStatus.DECLINED, "agreement_revoked", DeclineKind.HARD)
    assert gateway_client.get_agreement(agreement_id=agreement.agreement_id).status is AgreementStatus.REVOKED
    assert _decline(after) == (ChargeStatus.DECLINED, "agreement_inactive", DeclineKind.HARD)


def test_flaky_token_declines_two_keys_per_period_then_succeeds(
    sign: SignAgreement, gateway_client: HttpPaymentGateway, contract_id: str
) -> None:
    agreement = sign("sandbox_flaky_2")
    for period in (0, 1):
        outcomes = [
            _decline(charge(gateway_client, agreement, contract_id, period=period, attempt=n))
            for n in (1, 2, 3, 4)
        ]
        assert outcomes == [SOFT, SOFT, SUCCEEDED, SUCCEEDED], f"period {period}"


def test_flaky_token_counts_race_free_under_concurrent_keys(
    sign: SignAgreement, gateway_client: HttpPaymentGateway, contract_id: str
) -> None:
    agreement = sign("sandbox_flaky_2")
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(
            pool.map(lambda n: charge(gateway_client, agreement, contract_id, attempt=n), range(1, 11))
        )
    statuses = sorted(result.status for result in results)
    assert statuses == [ChargeStatus.DECLINED] * 2 + [ChargeStatus.SUCCEEDED] * 8


def test_lost_response_times_out_then_a_retry_returns_the_committed_charge(
    sign: SignAgreement,
    gateway_client: HttpPaymentGateway,
    sandbox_gateway: SandboxGateway,
    contract_id: str,
) -> None:
    agreement = sign("sandbox_lost_response")

    started = time.monotonic()
    with pytest.raises(GatewayUnavailable):
        charge(gateway_client, agreement, contract_id)
    assert time.monotonic() - started < sandbox_gateway.lost_response_delay_seconds

    started = time.monotonic()
    retried = charge(gateway_client, agreement, contract_id)
    assert time.monotonic() - started < CLIENT_TIMEOUT_SECONDS
    assert _decline(retried) == SUCCEEDED
    [row] = sandbox_gateway.ledger(contract_id)
    assert row["charge_id"] == retried.charge_id
    assert row["status"] == "succeeded"


def test_lost_response_delays_only_the_first_charge_of_each_period(
    sign: SignAgreement, gateway_client: HttpPaymentGateway, contract_id: str
) -> None:
    agreement = sign("sandbox_lost_response")
    with pytest.raises(GatewayUnavailable):
        charge(gateway_client, agreement, contract_id, period=0, attempt=1)
    # Another key in the same period answers at once; the next period's first charge is delayed again.
    assert _decline(charge(gateway_client, agreement, contract_id, period=0, attempt=2)) == SUCCEEDED
    with pytest.raises(GatewayUnavailable):
        charge(gateway_client, agreement, contract_id, period=1, attempt=1)


def test_same_key_twice_records_one_charge_and_returns_it_again(
    sign: SignAgreement,
    gateway_client: HttpPaymentGateway,
    sandbox_gateway: SandboxGateway,
    contract_id: str,
) -> None:
    agreement = sign("sandbox_ok")
    first = charge(gateway_client, agreement, contract_id)
    again = charge(gateway_client, agreement, contract_id)
    assert again == first
    assert [row["charge_id"] for row in sandbox_gateway.ledger(contract_id)] == [first.charge_id]


def test_replaying_a_decline_returns_the_decline_even_when_a_new_key_would_succeed(
    sign: SignAgreement, gateway_client: HttpPaymentGateway, contract_id: str
) -> None:
    agreement = sign("sandbox_flaky_2")
    first = charge(gateway_client, agreement, contract_id, attempt=1)
    for attempt in (2, 3):
        charge(gateway_client, agreement, contract_id, attempt=attempt)
    assert charge(gateway_client, agreement, contract_id, attempt=1) == first
    assert first.status is ChargeStatus.DECLINED


def test_same_key_with_a_different_amount_is_refused_as_reused(
    sign: SignAgreement,
    gateway_client: HttpPaymentGateway,
    sandbox_gateway: SandboxGateway,
    contract_id: str,
) -> None:
    agreement = sign("sandbox_ok")
    charge(gateway_client, agreement, contract_id)
    with pytest.raises(GatewayProblem) as caught:
        charge(gateway_client, agreement, contract_id, amount=Money(amount_minor=2_000, currency="USD"))
    assert (caught.value.status, caught.value.code) == (409, "idempotency_key_reused")
    assert len(sandbox_gateway.ledger(contract_id)) == 1


def test_same_key_with_a_different_reference_is_refused_as_reused(
    sign: SignAgreement, gateway_client: HttpPaymentGateway, contract_id: str
) -> None:
    agreement = sign("sandbox_ok")
    charge(gateway_client, agreement, contract_id, key="shared-key")
    with pytest.raises(GatewayProblem, match="idempotency_key_reused"):
        charge(gateway_client, agreement, contract_id, attempt=2, key="shared-key")


def test_twenty_concurrent_identical_charges_record_one_charge(
    sign: SignAgreement,
    gateway_client: HttpPaymentGateway,
    sandbox_gateway: SandboxGateway,
    contract_id: str,
) -> None:
    agreement = sign("sandbox_ok")
    barrier = threading.Barrier(20)

    def charge_together(_: int) -> ChargeResult:
        barrier.wait()
        return charge(gateway_client, agreement, contract_id)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(charge_together, range(20)))

    assert {result.charge_id for result in results} == {results[0].charge_id}
    assert all(result.status is ChargeStatus.SUCCEEDED for result in results)
    assert len(sandbox_gateway.ledger(contract_id)) == 1


def test_amount_over_the_cap_declines_hard(
    sign: SignAgreement, gateway_client: HttpPaymentGateway, contract_id: str
) -> None:
    agreement = sign("sandbox_ok")
    over = Money(amount_minor=CAP.amount_minor + 1, currency=CAP.currency)
    result = charge(gateway_client, agreement, contract_id, amount=over)
    assert _decline(result) == (ChargeStatus.DECLINED, "amount_exceeds_cap", DeclineKind.HARD)
    assert _decline(charge(gateway_client, agreement, contract_id, attempt=2, amount=CAP)) == SUCCEEDED


def test_currency_other_than_the_caps_declines_hard(
    sign: SignAgreement, gateway_client: HttpPaymentGateway, contract_id: str
) -> None:
    agreement = sign("sandbox_ok")
    result = charge(gateway_client, agreement, contract_id, amount=Money(amount_minor=100, currency="EUR"))
    assert _decline(result) == (ChargeStatus.DECLINED, "currency_mismatch", DeclineKind.HARD)


def test_charge_after_release_declines_hard(
    sign: SignAgreement, gateway_client: HttpPaymentGateway, contract_id: str
) -> None:
    agreement = sign("sandbox_ok")
    gateway_client.release_agreement(agreement_id=agreement.agreement_id)
    result = charge(gateway_client, agreement, contract_id)
    assert _decline(result) == (ChargeStatus.DECLINED, "agreement_inactive", DeclineKind.HARD)


def test_charge_on_an_unknown_agreement_is_a_request_error(
    gateway_client: HttpPaymentGateway, sandbox_gateway: SandboxGateway, contract_id: str
) -> None:
    with pytest.raises(GatewayProblem) as caught:
        gateway_client.charge(
            agreement_id="agr_missing",
            amount=PRICE,
            idempotency_key=f"{contract_id}:0:1",
            reference=ChargeReference(contract_id=contract_id, period=0, attempt=1),
        )
    assert (caught.value.status, caught.value.code) == (404, "agreement_not_found")
    assert sandbox_gateway.ledger(contract_id) == []
