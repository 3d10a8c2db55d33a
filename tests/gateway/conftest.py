"""Fixtures of the gateway tests; `sandbox_gateway` and `gateway_client` come from tests.fixtures.sandbox."""

from __future__ import annotations

import uuid

import pytest

from gateway.http_client import HttpPaymentGateway
from gateway.protocol import Agreement
from models.money import Money
from tests.gateway.support import CAP, SignAgreement


@pytest.fixture
def contract_id() -> str:
    return f"contract-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def sign(gateway_client: HttpPaymentGateway, contract_id: str) -> SignAgreement:
    """Sign an agreement for this test's contract with the given token."""

    def _sign(token: str, *, cap: Money = CAP, reference: str | None = None) -> Agreement:
        return gateway_client.sign_agreement(
            agreement_token=token,
            reference=reference or contract_id,
            user_id="user-1",
            single_charge_cap=cap,
        )

    return _sign
