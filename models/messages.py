"""Plain pydantic messages that cross the workflow boundary. Workflow-safe: no SQLModel, no I/O.

Every field added later must have a default, so histories recorded with older payloads still decode."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from models.enums import CancelMode, DeclineKind, SettleKind, SubscriptionStatus
from models.money import Money

DEFAULT_PERIODS_PER_RUN = 12


class Message(BaseModel):
    """A frozen message that crosses the workflow boundary."""

    model_config = ConfigDict(frozen=True)


# --- workflow input, its state and what continue-as-new carries ---------------------------------------


class SignupRequest(Message):
    """A signup as the user asked for it: built once (by the API) and carried by the workflow's input into
    signing, which adds when it was asked."""

    contract_id: str
    user_id: str
    product_id: str
    device_ids: tuple[str, ...]
    agreement_token: str
    timezone: str = "UTC"
    voucher_claim_id: str | None = None
    # The signup's own billing day, where the product allows one (docs/billing.md).
    billing_day: int | None = None

    def signing(self, requested_at: datetime) -> SignContractInput:
        return SignContractInput(
            **{name: getattr(self, name) for name in SignupRequest.model_fields}, requested_at=requested_at
        )


class SubscriptionInput(SignupRequest):
    periods_per_run: int = Field(default=DEFAULT_PERIODS_PER_RUN, ge=1)
    # How often a renewal charge is tried inside the worker before it goes on as an ordinary activity.
    local_charge_attempts: int = Field(default=5, ge=1)
    # Set only by continue-as-new: the state the previous run handed over.
    carried: CarriedState | None = None


class Decline(Message):
    code: str
    kind: DeclineKind
    at: datetime
    attempt: int


class SubscriptionProgress(BaseModel):
    """Where a subscription stands, as its workflow knows it: the API shows these fields as they are.
    Not frozen: the workflow keeps one copy and updates it."""

    status: SubscriptionStatus
    device_ids: tuple[str, ...]
    pending_removals: tuple[str, ...] = ()
    pending_additions: tuple[str, ...] = ()
    period: int | None = None  # the period paid most recently
    period_start: datetime | None = None
    period_end: datetime | None = None
    paid_through: datetime | None = None
    next_charge_at: datetime | None = None
    attempt: int = 0
    last_decline: Decline | None = None
    cancel_mode: CancelMode | None = None
    termination_reason: str | None = None
    periods_charged: int = 0


class SubscriptionState(SubscriptionProgress):
    """The `state` query's answer, and what a run hands the next inside `CarriedState`."""

    contract_id: str
    user_id: str
    product_id: str
    run_number: int = 1


class CarriedState(Message):
    """What a run hands the next beside the public state: the signed contract and the pending messages."""

    state: SubscriptionState
    signed: SignedContract
    agreement_token: str
    pending_agreement_token: str | None = None
    cancel: CancelRequest | None = None
    cancel_recorded: bool = False
    device_change_seq: int = 0
    notice_at: datetime | None = None  # the next renewal's notice, not sent yet


# --- signals and updates ---------------------------------------------------------------------------


class CancelRequest(Message):
    mode: CancelMode = CancelMode.AT_PERIOD_END
    reason: str = "user_request"


class DeviceChange(Message):
    device_id: str = Field(min_length=1, max_length=100)
    reason: str = "user_request"


class DeviceChangeRequest(Message):
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


class AgreementReplacement(Message):
    agreement_token: str = Field(min_length=1, max_length=100)


# --- activity inputs and results -------------------------------------------------------------------


class SignContractInput(SignupRequest):
    requested_at: datetime  # workflow time: the anchor of every period


class SignedContract(Message):
    contract_id: str
    agreement_id: str
    anchor_at: datetime
    billing_cycle: str
    resource_type: str
    device_ids: tuple[str, ...]
    dunning_delays_seconds: tuple[int, ...]
    dunning_max_attempts: int
    max_devices: int = 10


class SettlePeriodInput(Message):
    contract_id: str
    period: int
    attempt: int  # dunning attempt, 1-based; part of the idempotency key
    device_ids: tuple[str, ...]  # the group as the workflow knows it (signals applied)
    due_at: datetime


class SettleOutcome(Message):
    """What happened to one attempt at one period."""

    kind: SettleKind
    period: int
    attempt: int
    period_start: datetime
    period_end: datetime
    device_ids: tuple[str, ...] = ()
    amount: Money | None = None
    charge_id: str | None = None
    decline_code: str | None = None
    decline_kind: DeclineKind | None = None
    reason: str | None = None  # why verification failed
    dunning_delays_seconds: tuple[int, ...] = ()
    dunning_max_attempts: int = 1
    # When the next renewal's upcoming notice falls (the product's notice before this period's end); None
    # when the product gives none.
    notice_at: datetime | None = None
    # When the worker answered, by its clock. A local activity runs inside a workflow task without moving
    # `workflow.now()` on, so the wait for the next period is measured from here.
    answered_at: datetime


class RenewalNoticeInput(Message):
    """Tell the user what the renewal due at `due_at` will charge, for the group as it will be then."""

    contract_id: str
    period: int
    device_ids: tuple[str, ...]
    due_at: datetime


class RenewalNoticeOutcome(Message):
    """The notice sent, with the amount quoted; or, when the renewal would not be verified now, none."""

    sent: bool
    amount: Money | None = None
    reason: str | None = None  # why no notice was sent


class SignupOutcome(Message):
    """Signing and, unless it could not be made yet, the first period's first charge attempt."""

    signed: SignedContract
    first: SettleOutcome | None = None


class FinishInput(Message):
    """Close a contract for good: cancel, terminate, end or fail."""

    contract_id: str
    status: SubscriptionStatus
    reason: str
    revoke_at: datetime | None  # None = now
    release_agreement: bool = True


class TransitionInput(Message):
    """Record a non-final transition (past due, canceling, device change) in the contract and event log."""

    contract_id: str
    status: SubscriptionStatus
    kind: str
    dedup_key: str
    period: int | None = None
    detail: dict[str, str] = Field(default_factory=dict)


class ReleaseAgreementInput(Message):
    contract_id: str
    reason: str


class ReplaceAgreementInput(Message):
    contract_id: str
    agreement_token: str
    dedup_key: str


SubscriptionInput.model_rebuild()
CarriedState.model_rebuild()
