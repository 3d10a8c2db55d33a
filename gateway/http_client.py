"""`PaymentGateway` over HTTP: the sandbox's JSON contract (`gateway.sandbox`) on httpx's sync transport.

Requests go straight to the transport (its connection pool), not through `httpx.Client`: every period's
charge is one call, and the client's machinery around the transport (URL merging, cookies, auth and
redirect handling, event hooks) costs much of the call's CPU while none of it is wanted here; the gateway
contract has no cookies, auth or redirects, and the gateway's address is configured, never taken from proxy
variables in the environment. The transport still maps connection and timeout failures to httpx's
exceptions.

Failure mapping, so callers can decide whether a retry is safe:
- timeout, connection failure, 5xx, unreadable success body → `GatewayUnavailable` (outcome unknown);
- 402 → `AgreementRejected` (the gateway refused to sign; carries its problem `code`);
- any other 4xx → `GatewayProblem`, a `GatewayRequestError` carrying the HTTP status and problem `code`.
"""

from __future__ import annotations

from json import dumps
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from gateway.protocol import (
    Agreement,
    AgreementRejected,
    ChargeReference,
    ChargeResult,
    GatewayRequestError,
    GatewayUnavailable,
)
from infra.keep_alive import CLIENT_KEEP_ALIVE_S
from models.money import Money

_Result = TypeVar("_Result", bound=BaseModel)


class GatewayProblem(GatewayRequestError):
    """The gateway answered 4xx to a request we should not have sent (unknown agreement, reused key)."""

    def __init__(self, *, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


class _ProblemBody(BaseModel):
    """The RFC 9457 fields we read; everything is optional because a proxy may answer instead."""

    title: str | None = None
    detail: str | None = None
    code: str | None = None


class HttpPaymentGateway:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._transport = (
            transport
            if transport is not None
            else httpx.HTTPTransport(limits=httpx.Limits(keepalive_expiry=CLIENT_KEEP_ALIVE_S))
        )
        # Paths are relative to the base URL's own path, as httpx.Client's base_url has them.
        self._base_url = httpx.URL(base_url.rstrip("/") + "/")
        # Signing and charging paths, parsed once; a path with an agreement id is joined per call.
        self._urls = {
            path: self._base_url.join(path.lstrip("/")) for path in ("/v1/agreements", "/v1/charges")
        }
        self._extensions = {"timeout": httpx.Timeout(timeout_seconds).as_dict()}

    def sign_agreement(
        self, *, agreement_token: str, reference: str, user_id: str, single_charge_cap: Money
    ) -> Agreement:
        body = {
            "agreement_token": agreement_token,
            "reference": reference,
            "user_id": user_id,
            "single_charge_cap": single_charge_cap.model_dump(mode="json"),
        }
        return self._call("POST", "/v1/agreements", Agreement, json=body)

    def charge(
        self, *, agreement_id: str, amount: Money, idempotency_key: str, reference: ChargeReference
    ) -> ChargeResult:
        body = {
            "agreement_id": agreement_id,
            "amount": amount.model_dump(mode="json"),
            "idempotency_key": idempotency_key,
            "reference": reference.model_dump(mode="json"),
        }
        return self._call("POST", "/v1/charges", ChargeResult, json=body)

    def release_agreement(self, *, agreement_id: str) -> Agreement:
        return self._call("POST", f"/v1/agreements/{agreement_id}/release", Agreement)

    def get_agreement(self, *, agreement_id: str) -> Agreement:
        return self._call("GET", f"/v1/agreements/{agreement_id}", Agreement)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> HttpPaymentGateway:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(
        self, method: str, path: str, result_type: type[_Result], *, json: object | None = None
    ) -> _Result:
        headers = {"accept": "application/json"}
        content = None
        if json is not None:
            headers["content-type"] = "application/json"
            content = dumps(json, separators=(",", ":")).encode()
        request = httpx.Request(
            method, self._url(path), headers=headers, content=content, extensions=self._extensions
        )
        try:
            response = self._transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            raise GatewayUnavailable(f"{method} {path}: timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise GatewayUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if response.is_success:
            try:
                return result_type.model_validate_json(response.content)
            except ValidationError as exc:
                # A 2xx we cannot read may still have committed: only a retry with the same key is safe.
                raise GatewayUnavailable(f"{method} {path}: unreadable {response.status_code} body") from exc
        if response.is_client_error:
            problem = _read_problem(response)
            code = problem.code or f"http_{response.status_code}"
            detail = problem.detail or problem.title or response.reason_phrase
            if response.status_code == httpx.codes.PAYMENT_REQUIRED:
                raise AgreementRejected(code, detail)
            raise GatewayProblem(status=response.status_code, code=code, detail=detail)
        raise GatewayUnavailable(f"{method} {path}: HTTP {response.status_code}")

    def _url(self, path: str) -> httpx.URL:
        url = self._urls.get(path)
        return url if url is not None else self._base_url.join(path.lstrip("/"))


def _read_problem(response: httpx.Response) -> _ProblemBody:
    try:
        return _ProblemBody.model_validate_json(response.content)
    except ValidationError:
        return _ProblemBody(detail=response.text[:200] or None)
