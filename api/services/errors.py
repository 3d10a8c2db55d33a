"""Translate the engine's `ApplicationError`s (signup validation, signing refusals, device-change validator)
and the API's own signup refusals into problem answers, so the API and the workflow name the same field
and code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from temporalio.exceptions import ApplicationError

from api import problems
from api.problems import Problem, ProblemType
from models.names import AGREEMENT_REJECTED as AGREEMENT_REJECTED_ERROR
from models.names import INVALID_DEVICE_CHANGE, SUBSCRIPTION_ENDED
from models.names import INVALID_SUBSCRIPTION as INVALID_SUBSCRIPTION_ERROR
from models.schedule import BILLING_DAY_NEEDS_MONTHLY_CYCLE, BILLING_DAY_NOT_ALLOWED, INVALID_BILLING_DAY
from models.signup import DEVICE_ALREADY_SUBSCRIBED, SignupRefused

# `code` of an engine error -> problem type (codes from models.signup and the workflow's validator).
_BY_CODE: Mapping[str, ProblemType] = {
    "invalid_product_id": problems.UNKNOWN_PRODUCT,
    "unknown_product": problems.UNKNOWN_PRODUCT,
    "product_discontinued": problems.PRODUCT_DISCONTINUED,
    "no_devices": problems.NO_DEVICES,
    "duplicate_devices": problems.DUPLICATE_DEVICES,
    "too_many_devices": problems.TOO_MANY_DEVICES,
    "unknown_device": problems.UNKNOWN_DEVICE,
    "device_not_bound": problems.DEVICE_NOT_BOUND,
    "unknown_timezone": problems.UNKNOWN_TIMEZONE,
    INVALID_BILLING_DAY: problems.INVALID_BILLING_DAY,
    BILLING_DAY_NEEDS_MONTHLY_CYCLE: problems.INVALID_BILLING_DAY,
    BILLING_DAY_NOT_ALLOWED: problems.INVALID_BILLING_DAY,
    "device_already_in_group": problems.DEVICE_ALREADY_IN_GROUP,
    "device_not_in_group": problems.DEVICE_NOT_IN_GROUP,
}


def error_details(error: ApplicationError) -> dict[str, Any]:
    for detail in error.details:
        if isinstance(detail, Mapping):
            return dict(detail)
    return {}


def engine_problem(error: ApplicationError) -> Problem:
    """The problem for an engine error; unknown types fall back to a generic 422 naming the code."""
    details = error_details(error)
    field = str(details["field"]) if "field" in details else None
    code = str(details["code"]) if "code" in details else None
    return _problem(error.type, error.message, field=field, code=code)


def refusal_problem(refused: SignupRefused) -> Problem:
    """The answer to a refusal the API's own checks found before starting anything: the same as for the
    signing activity's refusal, except that a device another subscription holds is a conflict."""
    if refused.code == DEVICE_ALREADY_SUBSCRIBED:
        return problems.DEVICE_ALREADY_SUBSCRIBED(refused.message, field=refused.field, code=refused.code)
    return _problem(INVALID_SUBSCRIPTION_ERROR, refused.message, field=refused.field, code=refused.code)


def _problem(error_type: str | None, message: str, *, field: str | None, code: str | None) -> Problem:
    if error_type == SUBSCRIPTION_ENDED:
        return problems.SUBSCRIPTION_ENDED(message, code="subscription_ended")
    if error_type == AGREEMENT_REJECTED_ERROR:
        return problems.AGREEMENT_REJECTED(
            message, field=field or "payment.agreement_token", code=code or "agreement_rejected"
        )
    if error_type == INVALID_SUBSCRIPTION_ERROR and field == "voucher_claim_id":
        # The voucher domain's codes (claim_not_found, claim_used, use_window_ended ...) pass through.
        return problems.VOUCHER_NOT_USABLE(message, field=field, code=code or "voucher_not_usable")
    if (
        error_type in (INVALID_SUBSCRIPTION_ERROR, INVALID_DEVICE_CHANGE)
        and code is not None
        and code in _BY_CODE
    ):
        return _BY_CODE[code](message, field=field, code=code)
    if error_type in (INVALID_SUBSCRIPTION_ERROR, INVALID_DEVICE_CHANGE):
        return problems.INVALID_SUBSCRIPTION(message, field=field, code=code)
    return problems.SIGNING_FAILED(message, code=code or (error_type or "failed"))
