"""The sandbox as a service: health, the ledger endpoint, problem bodies, surviving a restart."""

from __future__ import annotations

import httpx
import pytest

from gateway.http_client import HttpPaymentGateway
from gateway.protocol import GatewayUnavailable
from tests.fixtures.sandbox import SandboxGateway
from tests.gateway.support import SignAgreement, charge


def test_healthz_answers_ok(sandbox_gateway: SandboxGateway) -> None:
    response = httpx.get(f"{sandbox_gateway.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ledger_endpoint_filters_by_contract_period_and_status_oldest_first(
    sign: SignAgreement, gateway_client: HttpPaymentGateway, sandbox_gateway: SandboxGateway, contract_id: str
) -> None:
    agreement = sign("sandbox_flaky_2")
    keys = [charge(gateway_client, agreement, contract_id, attempt=n).idempotency_key for n in (1, 2, 3)]
    charge(gateway_client, agreement, contract_id, period=1)

    def ledger(**params: str) -> list[str]:
        response = httpx.get(
            f"{sandbox_gateway.url}/v1/charges", params={"contract_id": contract_id, **params}
        )
        response.raise_for_status()
        return [row["idempotency_key"] for row in response.json()]

    assert ledger(period="0") == keys
    assert ledger(period="0", status="declined") == keys[:2]
    assert ledger(status="succeeded") == [keys[2]]
    assert ledger(status="declined") == [*keys[:2], f"{contract_id}:1:1"]


def test_invalid_request_is_answered_with_problem_json(sandbox_gateway: SandboxGateway) -> None:
    response = httpx.post(f"{sandbox_gateway.url}/v1/charges", json={"agreement_id": "agr_1"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "invalid_request"
    assert {"type", "title", "detail", "status"} <= problem.keys()


def test_stopped_sandbox_is_unavailable_and_a_restart_keeps_the_ledger(
    sign: SignAgreement, gateway_client: HttpPaymentGateway, sandbox_gateway: SandboxGateway, contract_id: str
) -> None:
    agreement = sign("sandbox_ok")
    first = charge(gateway_client, agreement, contract_id)

    sandbox_gateway.stop()
    try:
        with pytest.raises(GatewayUnavailable):
            charge(gateway_client, agreement, contract_id)
        assert len(sandbox_gateway.ledger(contract_id)) == 1
    finally:
        sandbox_gateway.start()

    assert charge(gateway_client, agreement, contract_id) == first
