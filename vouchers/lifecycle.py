"""Names and messages of the voucher lifecycle workflow, defined once.

Workflow-safe (pydantic only): the workflow module imports this through the sandbox, and so do the
activities and the API. Statuses cross the boundary as the strings the database holds; the workflow
only mirrors what its activities report."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

VOUCHER_LIFECYCLE_WORKFLOW = "VoucherLifecycleWorkflow"
TERMINATE_SIGNAL = "terminate"

OPEN_CLAIM_WINDOW = "voucher_open_claim_window"
EXPIRE_CLAIMS = "voucher_expire_claims"
TERMINATE_VOUCHER = "voucher_terminate"


def voucher_workflow_id(voucher_id: str) -> str:
    return f"voucher-{voucher_id}"


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True)


# Started when the operator enables the voucher; its windows cannot change after that.
class VoucherLifecycleInput(_Message):
    voucher_id: str
    status: str
    scheduled: bool = False  # enabled before its claim window: the workflow opens it
    claim_starts_at: datetime
    use_ends_at: datetime
    valid_until: datetime


class VoucherStepInput(_Message):
    voucher_id: str
    at: datetime
    reason: str = ""


# What an activity left behind: the voucher's status and how many claims it expired.
class VoucherStepResult(_Message):
    status: str
    terminated: bool = False
    expired_claims: int = 0


class TerminateRequest(_Message):
    reason: str = "terminated by operator"


class VoucherLifecycleState(_Message):
    voucher_id: str
    status: str
    next_step: str | None
    next_step_at: datetime | None
    expired_claims: int
