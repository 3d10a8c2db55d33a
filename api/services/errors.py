"""Translate the engine's `ApplicationError`s (signup validation, signing refusals, device-change validator)
into problem answers, so the API and the workflow name the same field and code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from temporalio.exceptions import ApplicationError

from api import problems
from api.problems import Problem, ProblemType
from models.names import AGREEMENT_REJECTED as AGREEMENT_REJECTED_ERROR
from models.names import INVALID_DEVICE_CHANGE, SUBSCRIPTION_ENDED
from models.names import INVALID_SUBSCRIPTION as INVALID_SUBSCRIPTION_ERROR

# `code` of an engine error -> problem type (codes from activities.signing and the workflow's validator).
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
    if error.type == SUBSCRIPTION_ENDED:
        return problems.SUBSCRIPTION_ENDED(error.message, code="subscription_ended")
    if error.type == AGREEMENT_REJECTED_ERROR:
        return problems.AGREEMENT_REJECTED(
            error.message, field=field or "payment.agreement_token", code=code or "agreement_rejected"
        )
    if error.type == INVALID_SUBSCRIPTION_ERROR and field == "voucher_claim_id":
        # The voucher domain's codes (claim_not_found, claim_used, use_window_ended ...) pass through.
        return problems.VOUCHER_NOT_USABLE(error.message, field=field, code=code or "voucher_not_usable")
    if (
        error.type in (INVALID_SUBSCRIPTION_ERROR, INVALID_DEVICE_CHANGE)
        and code is not None
        and code in _BY_CODE
    ):
        return _BY_CODE[code](error.message, field=field, code=code)
    if error.type in (INVALID_SUBSCRIPTION_ERROR, INVALID_DEVICE_CHANGE):
        return problems.INVALID_SUBSCRIPTION(error.message, field=field, code=code)
    return problems.SIGNING_FAILED(error.message, code=code or (error.type or "failed"))
