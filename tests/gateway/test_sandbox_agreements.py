"""Signing and releasing agreements through the real client against the sandbox process."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from sqlalchemy import NullPool, create_engine

from gateway.http_client import GatewayProblem, HttpPaymentGateway
from gateway.protocol import AgreementRejected, AgreementStatus
from gateway.sandbox.ledger import SandboxLedger
from gateway.sandbox.schemas import SignRequest
from infra.settings import sqlalchemy_url
from models.money import Money
from tests.fixtures.sandbox import SandboxGateway
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


def test_signing_while_a_twin_commits_the_same_reference_returns_the_twins_agreement(
    sandbox_gateway: SandboxGateway, contract_id: str
) -> None:
    """The twin commits after the signing statement began, so that statement's snapshot cannot see the
    agreement it conflicted with; the ledger looks again."""
    engine = create_engine(sqlalchemy_url(sandbox_gateway.database_url), poolclass=NullPool)
    request = SignRequest(
        agreement_token="sandbox_ok", reference=contract_id, user_id="user-1", single_charge_cap=CAP
    )
    with (
        psycopg.connect(sandbox_gateway.database_url) as twin,
        psycopg.connect(sandbox_gateway.database_url, autocommit=True) as watcher,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        twin.execute(
            "INSERT INTO sandbox.agreements "
            "VALUES (%s, %s, 'user-1', 'sandbox_ok', 'active', %s, %s, now(), now())",
            ("agr_twin", contract_id, CAP.amount_minor, CAP.currency),
        )
        signing = pool.submit(SandboxLedger(engine).sign, request)
        deadline = time.monotonic() + 10
        while not _waiting_on_a_lock(watcher):
            assert time.monotonic() < deadline, "the signing statement never waited for the twin"
            time.sleep(0.01)
        twin.commit()
        signed = signing.result(timeout=10)
    engine.dispose()
    assert (signed.agreement.agreement_id, signed.created) == ("agr_twin", False)


def _waiting_on_a_lock(watcher: psycopg.Connection[tuple[object, ...]]) -> bool:
    row = watcher.execute(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    ).fetchone()
    return row is not None and row[0] == 1
