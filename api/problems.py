"""RFC 9457 problem details: every error the API answers is `application/problem+json` with a stable `type`.

Routes raise `Problem` (usually built from one of the `ProblemType` constants below); the handlers
installed by `install_problem_handlers` turn it, FastAPI's validation errors and Starlette's HTTP errors
(unknown route, wrong method, oversized body) into the same shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_BASE = "https://iot-billing.dev/problems/"
PROBLEM_JSON = "application/problem+json"

log = structlog.get_logger(__name__)


# One entry of `errors`: which field, a machine code, a human message.
class FieldError(BaseModel):
    field: str
    code: str
    message: str


# The problem document as OpenAPI shows it; extension members (such as `subscription`) may follow.
class ProblemDocument(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=[f"{PROBLEM_BASE}unknown-product"])
    title: str
    status: int
    detail: str
    field: str | None = None
    code: str | None = None
    errors: list[FieldError] | None = None


class Problem(Exception):
    """An error answer. Raise it anywhere below a route; the handler renders it."""

    def __init__(
        self,
        kind: ProblemType,
        detail: str,
        *,
        field: str | None = None,
        code: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.field = field
        self.code = code
        self.errors = list(errors)
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    @property
    def status(self) -> int:
        return self.kind.status

    def body(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "type": self.kind.uri,
            "title": self.kind.title,
            "status": self.kind.status,
            "detail": self.detail,
        }
        if self.field is not None:
            document["field"] = self.field
        if self.code is not None:
            document["code"] = self.code
        if self.errors:
            document["errors"] = [e.model_dump() for e in self.errors]
        document.update(jsonable_encoder(self.extra))
        return document

    def response(self) -> JSONResponse:
        return problem_response(self.body(), headers=self.headers)


@dataclass(frozen=True)
class ProblemType:
    """A stable problem `type`: its slug is part of the public contract and never changes meaning."""

    slug: str
    title: str
    status: int

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug

    def __call__(
        self,
        detail: str,
        *,
        field: str | None = None,
        code: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Problem:
        return Problem(self, detail, field=field, code=code, errors=errors, headers=headers, extra=extra)


def problem_response(body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        dict(body), status_code=int(body["status"]), media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


# --- the catalogue of problem types -------------------------------------------------------------------

# Request shape
MALFORMED_JSON = ProblemType("malformed-json", "Malformed JSON body", 400)
MALFORMED_BODY = ProblemType("malformed-body", "Unreadable request body", 400)
VALIDATION_ERROR = ProblemType("validation-error", "Invalid request", 422)
UNSUPPORTED_MEDIA_TYPE = ProblemType("unsupported-media-type", "Unsupported media type", 415)
BODY_TOO_LARGE = ProblemType("body-too-large", "Request body too large", 413)
NOT_FOUND = ProblemType("not-found", "Not found", 404)
METHOD_NOT_ALLOWED = ProblemType("method-not-allowed", "Method not allowed", 405)
IDEMPOTENCY_KEY_REQUIRED = ProblemType("idempotency-key-required", "Idempotency-Key header required", 400)
INVALID_IDEMPOTENCY_KEY = ProblemType("invalid-idempotency-key", "Invalid Idempotency-Key header", 400)
IDEMPOTENCY_KEY_REUSED = ProblemType(
    "idempotency-key-reused", "Idempotency-Key already used for another request", 422
)

# Authentication and authorisation
AUTHENTICATION_REQUIRED = ProblemType("authentication-required", "Authentication required", 401)
INVALID_TOKEN = ProblemType("invalid-token", "Invalid token", 401)
TOKEN_EXPIRED = ProblemType("token-expired", "Token expired", 401)
ADMIN_REQUIRED = ProblemType("admin-required", "Admin token required", 403)
USER_REQUIRED = ProblemType("user-required", "User token required", 403)

# Catalog
INVALID_BILLING_CYCLE = ProblemType("invalid-billing-cycle", "Invalid billing cycle", 422)
INVALID_RENEWAL_NOTICE = ProblemType("invalid-renewal-notice", "Invalid renewal notice", 422)
INVALID_BILLING_DAY = ProblemType("invalid-billing-day", "Invalid billing day", 422)
PRODUCT_NOT_FOUND = ProblemType("product-not-found", "Product not found", 404)
CURRENCY_CHANGE_NOT_ALLOWED = ProblemType(
    "currency-change-not-allowed", "A product's currency cannot change", 422
)
DEVICE_NOT_FOUND = ProblemType("device-not-found", "Device not found", 404)
DEVICE_OWNED_BY_ANOTHER_USER = ProblemType(
    "device-owned-by-another-user", "Device is bound to another user", 409
)

# Signup and device-group changes
UNKNOWN_PRODUCT = ProblemType("unknown-product", "Unknown product", 422)
PRODUCT_DISCONTINUED = ProblemType("product-discontinued", "Product discontinued", 422)
NO_DEVICES = ProblemType("no-devices", "No devices", 422)
DUPLICATE_DEVICES = ProblemType("duplicate-devices", "Duplicate devices", 422)
TOO_MANY_DEVICES = ProblemType("too-many-devices", "Too many devices", 422)
UNKNOWN_DEVICE = ProblemType("unknown-device", "Unknown device", 422)
UNKNOWN_TIMEZONE = ProblemType("unknown-timezone", "Unknown time zone", 422)
INVALID_SUBSCRIPTION = ProblemType("invalid-subscription", "Invalid subscription", 422)
DEVICE_NOT_BOUND = ProblemType("device-not-bound", "Device not bound", 409)
DEVICE_ALREADY_SUBSCRIBED = ProblemType(
    "device-already-subscribed", "Device already subscribed for this resource", 409
)
DEVICE_ALREADY_IN_GROUP = ProblemType("device-already-in-group", "Device already in the group", 409)
DEVICE_NOT_IN_GROUP = ProblemType("device-not-in-group", "Device not in the group", 409)
AGREEMENT_REJECTED = ProblemType("agreement-rejected", "Payment agreement refused", 402)
PAYMENT_DECLINED = ProblemType("payment-declined", "First payment declined", 402)
VOUCHER_NOT_USABLE = ProblemType("voucher-not-usable", "Voucher claim cannot be used", 422)
SIGNING_FAILED = ProblemType("signing-failed", "Signing did not complete", 502)
SIGNUP_IN_PROGRESS = ProblemType("signup-in-progress", "Signup not decided yet", 503)

# Subscriptions
SUBSCRIPTION_NOT_FOUND = ProblemType("subscription-not-found", "Subscription not found", 404)
SUBSCRIPTION_ENDED = ProblemType("subscription-ended", "Subscription already ended", 409)
SUBSCRIPTION_NOT_SIGNED = ProblemType("subscription-not-signed", "Subscription not signed yet", 409)

# Events feed
INVALID_CURSOR = ProblemType("invalid-cursor", "Invalid cursor", 400)
UNKNOWN_EVENT_TYPE = ProblemType("unknown-event-type", "Unknown event type", 422)

# Webhooks
INVALID_WEBHOOK_URL = ProblemType("invalid-webhook-url", "Webhook URL not accepted", 422)
INVALID_WEBHOOK_ENDPOINT = ProblemType("invalid-webhook-endpoint", "Invalid webhook endpoint", 422)
WEBHOOK_ENDPOINT_NOT_FOUND = ProblemType("webhook-endpoint-not-found", "Webhook endpoint not found", 404)
EVENT_NOT_FOUND = ProblemType("event-not-found", "Event not found", 404)

# Infrastructure
TEMPORAL_UNAVAILABLE = ProblemType("temporal-unavailable", "Workflow service unavailable", 503)
IDENTITY_PROVIDER_UNAVAILABLE = ProblemType(
    "identity-provider-unavailable", "Identity provider's keys unavailable", 503
)
NOT_READY = ProblemType("not-ready", "Service not ready", 503)
INTERNAL_ERROR = ProblemType("internal-error", "Internal error", 500)

# Pydantic error codes raised by our own validators that deserve their own problem type.
_SPECIFIC_VALIDATION: dict[str, ProblemType] = {
    "invalid_billing_cycle": INVALID_BILLING_CYCLE,
    "invalid_renewal_notice": INVALID_RENEWAL_NOTICE,
    "renewal_notice_too_long": INVALID_RENEWAL_NOTICE,
    "invalid_billing_day": INVALID_BILLING_DAY,
}


def problem_responses(
    *statuses: int, also: Mapping[int | str, dict[str, Any]] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for a route's own problem answers (beyond the common ones), plus `also`."""
    entries: dict[int | str, dict[str, Any]] = {
        status: {
            "model": ProblemDocument,
            "content": {PROBLEM_JSON: {}},
            "description": HTTPStatus(status).phrase,
        }
        for status in statuses
    }
    entries.update(also or {})
    return entries


# Problem answers every route may give, for the OpenAPI document.
COMMON_RESPONSES = problem_responses(400, 401, 403, 404, 413, 415, 422)


# --- handlers ---------------------------------------------------------------------------------------


def _field_name(loc: Sequence[int | str]) -> str:
    # ("body", "unit_price", "amount_minor") -> "unit_price.amount_minor"; ("query", "status") -> "status"
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts) or "body"


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def validation_problem(request: Request, exc: RequestValidationError) -> Problem:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return MALFORMED_JSON("the request body is not valid JSON", field="body", code="json_invalid")
    body_errors = [e for e in errors if e.get("loc", ("",))[0] == "body"]
    if body_errors and not _is_json(request.headers.get("content-type")):
        return UNSUPPORTED_MEDIA_TYPE(
            "send the request body as application/json", field="body", code="unsupported_media_type"
        )
    fields = [
        FieldError(
            field=_field_name(e.get("loc", ())), code=str(e.get("type", "invalid")), message=str(e["msg"])
        )
        for e in errors
    ]
    first = fields[0]
    kind = _SPECIFIC_VALIDATION.get(first.code, VALIDATION_ERROR)
    if [str(part).lower() for part in errors[0].get("loc", ())][:2] == ["header", "idempotency-key"]:
        kind = IDEMPOTENCY_KEY_REQUIRED if first.code == "missing" else INVALID_IDEMPOTENCY_KEY
        first = first.model_copy(update={"field": "Idempotency-Key"})
        fields[0] = first
    detail = f"{first.field}: {first.message}" + (f" (and {len(fields) - 1} more)" if len(fields) > 1 else "")
    return kind(detail, field=first.field, code=first.code, errors=fields)


async def _on_problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return exc.response()


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_problem(request, exc).response()


async def _on_http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    status = exc.status_code
    if status == 404:
        return NOT_FOUND("no such resource", headers=headers).response()
    if status == 405:
        return METHOD_NOT_ALLOWED("this method is not allowed here", headers=headers).response()
    if status == 413:
        return BODY_TOO_LARGE(
            "the request body exceeds the size limit", field="body", code="body_too_large", headers=headers
        ).response()
    if status == 400:
        return MALFORMED_BODY(str(exc.detail), field="body", headers=headers).response()
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    generic = ProblemType(phrase.lower().replace(" ", "-"), phrase, status)
    return generic(str(exc.detail), headers=headers).response()


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", path=request.url.path, method=request.method)
    return INTERNAL_ERROR("the server failed to answer; the error was logged").response()


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
