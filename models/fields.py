"""Constrained scalar types shared by the request bodies of the API and the voucher domain: every string is
bounded and free of control characters (PostgreSQL refuses NUL bytes; nothing else wants them), every
integer is a strict JSON integer."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt
from pydantic_core import PydanticCustomError

from models.schedule import FIRST_BILLING_DAY, INVALID_BILLING_DAY, LAST_BILLING_DAY, billing_day_problem

_NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"
DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=_NO_CONTROL)]
UserId = Annotated[str, Field(min_length=1, max_length=100, pattern=_NO_CONTROL, examples=["alice"])]
DeviceId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=DEVICE_ID_PATTERN,
        description="Letters, digits and . _ : - (starting with a letter or digit).",
        examples=["cam-1"],
    ),
]
ResourceType = Annotated[
    str,
    Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_.-]*$", examples=["cloud_video_storage"]),
]
AgreementToken = Annotated[
    str, Field(min_length=1, max_length=100, pattern=_NO_CONTROL, examples=["sandbox_ok"])
]
TimeZoneName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_+\-/]+$",
        description="IANA time zone name; calendar cycles are computed in it.",
        examples=["Asia/Shanghai"],
    ),
]
PositiveInt = Annotated[StrictInt, Field(gt=0)]


def _billing_day(day: int) -> int:
    problem = billing_day_problem(day)
    if problem is not None:
        # Its own error type, so the answer names what is allowed instead of a bare bound.
        raise PydanticCustomError(INVALID_BILLING_DAY, problem)
    return day


BillingDay = Annotated[
    StrictInt,
    Field(
        description=f"Day of the month ({FIRST_BILLING_DAY}-{LAST_BILLING_DAY}) on which periods start, at "
        "midnight in the contract's time zone; monthly and yearly cycles only.",
        examples=[1],
        json_schema_extra={"minimum": FIRST_BILLING_DAY, "maximum": LAST_BILLING_DAY},
    ),
    AfterValidator(_billing_day),
]


class RequestBody(BaseModel):
    """Base of request bodies: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")
