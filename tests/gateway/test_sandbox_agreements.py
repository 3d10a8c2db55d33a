"""Signing and releasing agreements through the real client against the sandbox process."""

from __future__ import annotations

import pytest

from gateway.http_client import GatewayProblem, HttpPaymentGateway
from gateway.protocol import AgreementRejected, AgreementStatus
from models.money import Money
from tests.gateway.support import CAP, SignAgreement, charge


@pytest.mark.parametrize(
    "token",
    [
        "sandbox_ok",
        "sandbox_soft_decline",
        "sandbox_hard_decline",
        "sandbox_flaky_2",
        "sandbox_lost_response",
    ],
)
def test_scripted_tokens_sign_an_active_agreement_with_the_cap(sign: SignAgreement, token: str) -> None:
    agreement = sign(token)
    assert agreement.status is AgreementStatus.ACTIVE
    assert agreement.single_charge_cap == CAP
    assert agreement.agreement_id.startswith("agr_")


def test_signing_the_same_reference_again_returns_the_same_agreement(sign: SignAgreement) -> None:
    first = sign("sandbox_ok")
    again = sign("sandbox_ok", cap=Money(amount_minor=1, currency="USD"))
    assert again == first


def test_different_references_sign_different_agreements(sign: SignAgreement, contract_id: str) -> None:
    assert sign("sandbox_ok").agreement_id != sign("sandbox_ok", reference=f"{contract_id}-b").agreement_id


def test_sign_declined_token_raises_agreement_rejected(sign: SignAgreement) -> None:
    with pytest.raises(AgreementRejected) as caught:
        sign("sandbox_sign_declined")
    assert caught.value.code == "agreement_rejected"


def test_unknown_token_raises_agreement_rejected_as_invalid_token(sign: SignAgreement) -> None:
    with pytest.raises(AgreementRejected) as caught:
        sign("tok_live_4242")
    assert caught.value.code == "invalid_token"


def test_release_is_idempotent(sign: SignAgreement, gateway_client: HttpPaymentGateway) -> None:
    agreement = sign("sandbox_ok")
    first = gateway_client.release_agreement(agreement_id=agreement.agreement_id)
    again = gateway_client.release_agreement(agreement_id=agreement.agreement_id)
    assert first.status is AgreementStatus.RELEASED
    assert again == first
    assert (
        gateway_client.get_agreement(agreement_id=agreement.agreement_id).status is AgreementStatus.RELEASED
    )


def test_releasing_a_revoked_agreement_keeps_it_revoked(
    sign: SignAgreement, gateway_client: HttpPaymentGateway, contract_id: str
) -> None:
    agreement = sign("sandbox_hard_decline")
    charge(gateway_client, agreement, contract_id)
    released = gateway_client.release_agreement(agreement_id=agreement.agreement_id)
    assert released.status is AgreementStatus.REVOKED


def test_releasing_an_unknown_agreement_is_a_request_error(gateway_client: HttpPaymentGateway) -> None:
    with pytest.raises(GatewayProblem) as caught:
        gateway_client.release_agreement(agreement_id="agr_missing")
    assert (caught.value.status, caught.value.code) == (404, "agreement_not_found")
