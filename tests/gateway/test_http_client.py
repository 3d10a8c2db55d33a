"""The client's mapping of transport failures and problem answers, at the httpx boundary."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import httpx
import pytest

from gateway.http_client import GatewayProblem, HttpPaymentGateway
from gateway.protocol import (
    AgreementRejected,
    ChargeReference,
    ChargeStatus,
    GatewayUnavailable,
)
from models.money import Money

AMOUNT = Money(amount_minor=1_999, currency="CNY")
REFERENCE = ChargeReference(contract_id="c-1", period=2, attempt=3)

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler) -> HttpPaymentGateway:
    return HttpPaymentGateway("http://gateway.test", transport=httpx.MockTransport(handler))


def _charge(gateway: HttpPaymentGateway) -> object:
    return gateway.charge(agreement_id="agr_1", amount=AMOUNT, idempotency_key="c-1:2:3", reference=REFERENCE)


def _problem(status: int, code: str) -> httpx.Response:
    body = {"type": f"urn:x:{code}", "title": "t", "status": status, "detail": f"why {code}", "code": code}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def test_charge_posts_the_contract_body_and_parses_the_result() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "charge_id": "ch_1",
                "status": "declined",
                "amount": {"amount_minor": 1999, "currency": "CNY"},
                "idempotency_key": "c-1:2:3",
                "decline_code": "insufficient_funds",
                "decline_kind": "soft",
            },
        )

    with _client(handler) as gateway:
        result = gateway.charge(
            agreement_id="agr_1", amount=AMOUNT, idempotency_key="c-1:2:3", reference=REFERENCE
        )

    assert result.status is ChargeStatus.DECLINED
    assert result.decline_code == "insufficient_funds"
    assert result.amount == AMOUNT
    assert seen[0].method == "POST"
    assert seen[0].url.path == "/v1/charges"
    assert json.loads(seen[0].content) == {
        "agreement_id": "agr_1",
        "amount": {"amount_minor": 1999, "currency": "CNY"},
        "idempotency_key": "c-1:2:3",
        "reference": {"contract_id": "c-1", "period": 2, "attempt": 3},
    }


def test_payment_required_maps_to_agreement_rejected_with_the_problem_code() -> None:
    with (
        _client(lambda _request: _problem(402, "invalid_token")) as gateway,
        pytest.raises(AgreementRejected) as caught,
    ):
        gateway.sign_agreement(agreement_token="t", reference="c-1", user_id="u", single_charge_cap=AMOUNT)
    assert caught.value.code == "invalid_token"
    assert str(caught.value) == "why invalid_token"


@pytest.mark.parametrize(("status", "code"), [(404, "agreement_not_found"), (409, "idempotency_key_reused")])
def test_other_client_errors_map_to_request_errors_with_status_and_code(status: int, code: str) -> None:
    with _client(lambda _request: _problem(status, code)) as gateway, pytest.raises(GatewayProblem) as caught:
        _charge(gateway)
    assert (caught.value.status, caught.value.code) == (status, code)


def test_client_error_without_problem_body_still_maps_to_a_request_error() -> None:
    with (
        _client(lambda _request: httpx.Response(400, text="<html>bad</html>")) as gateway,
        pytest.raises(GatewayProblem) as caught,
    ):
        _charge(gateway)
    assert caught.value.code == "http_400"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_map_to_gateway_unavailable(status: int) -> None:
    with _client(lambda _request: _problem(status, "boom")) as gateway, pytest.raises(GatewayUnavailable):
        _charge(gateway)


def test_timeouts_map_to_gateway_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with _client(handler) as gateway, pytest.raises(GatewayUnavailable, match="timed out"):
        _charge(gateway)


def test_unreadable_success_body_maps_to_gateway_unavailable() -> None:
    with (
        _client(lambda _request: httpx.Response(200, json={"charge_id": "ch_1"})) as gateway,
        pytest.raises(GatewayUnavailable, match="unreadable"),
    ):
        _charge(gateway)


def test_connection_refused_maps_to_gateway_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    # Nothing listens on the port any more: the connection is refused.
    with (
        HttpPaymentGateway(f"http://127.0.0.1:{closed_port}", timeout_seconds=2) as gateway,
        pytest.raises(GatewayUnavailable, match="ConnectError"),
    ):
        _charge(gateway)


def test_paths_are_joined_under_the_base_urls_own_path() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return _problem(404, "agreement_not_found")

    for base in ("http://gateway.test/pay", "http://gateway.test/pay/"):
        gateway = HttpPaymentGateway(base, transport=httpx.MockTransport(handler))
        with gateway, pytest.raises(GatewayProblem):
            gateway.get_agreement(agreement_id="agr_1")
    assert seen == ["http://gateway.test/pay/v1/agreements/agr_1"] * 2
