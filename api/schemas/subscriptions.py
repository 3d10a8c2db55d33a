"""Subscription bodies: signup, cancel, device-group changes, and the state and history answered."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from models.contract import ChargeAttempt, ChargePlan, Contract
from models.entitlement import ContractEvent
from models.enums import AttemptStatus, CancelMode, PlanStatus, SubscriptionStatus
from models.fields import AgreementToken, BillingDay, DeviceId, RequestBody, TimeZoneName
from models.messages import SubscriptionProgress, SubscriptionState


class PaymentIn(RequestBody):
    agreement_token: AgreementToken = Field(description="The payment method's agreement token to sign.")


class SubscriptionCreate(RequestBody):
    product_id: uuid.UUID
    device_ids: list[DeviceId] = Field(max_length=100, description="The group: devices the user owns.")
    payment: PaymentIn
    voucher_claim_id: uuid.UUID | None = None
    timezone: TimeZoneName = "UTC"
    billing_day: BillingDay | None = Field(
        default=None,
        description="This subscription's own billing day, where the product allows one; omit it to take the "
        "product's.",
    )


class CancelIn(RequestBody):
    mode: CancelMode = Field(
        default=CancelMode.AT_PERIOD_END,
        description="`at_period_end`: entitled until paid-through, no further charge; `immediately`: now.",
    )


class DevicesAdd(RequestBody):
    device_ids: list[DeviceId] = Field(min_length=1, max_length=100)


class SubscriptionOut(SubscriptionProgress):
    id: uuid.UUID
    user_id: str
    product_id: uuid.UUID
    source: Literal["workflow", "database"] = Field(
        description="`workflow`: live state from the running workflow; `database`: the last recorded state."
    )

    @classmethod
    def of_state(cls, state: SubscriptionState) -> SubscriptionOut:
        return cls.model_validate({**dict(state), "id": state.contract_id, "source": "workflow"})

    @classmethod
    def of_contract(cls, contract: Contract, *, periods_charged: int) -> SubscriptionOut:
        return cls(
            id=contract.id,
            user_id=contract.user_id,
            product_id=contract.product_id,
            status=contract.status,
            device_ids=tuple(contract.device_ids),
            period=contract.current_period if contract.paid_through else None,
            period_start=contract.period_start,
            period_end=contract.period_end,
            paid_through=contract.paid_through,
            termination_reason=contract.termination_reason,
            periods_charged=periods_charged,
            source="database",
        )


class PlanOut(BaseModel):
    period: int
    period_start: datetime
    period_end: datetime
    due_at: datetime
    device_ids: list[str]
    unit_price_minor: int
    gross_minor: int
    discount_minor: int
    amount_minor: int
    currency: str
    status: PlanStatus
    paid_at: datetime | None

    @classmethod
    def of(cls, plan: ChargePlan) -> PlanOut:
        return cls.model_validate(plan, from_attributes=True)


class AttemptOut(BaseModel):
    period: int
    attempt: int
    amount_minor: int
    currency: str
    status: AttemptStatus
    gateway_charge_id: str | None
    decline_code: str | None
    decline_kind: str | None
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, attempt: ChargeAttempt) -> AttemptOut:
        return cls.model_validate(attempt, from_attributes=True)


class EventOut(BaseModel):
    kind: str
    period: int | None
    detail: dict[str, Any]
    occurred_at: datetime

    @classmethod
    def of(cls, event: ContractEvent) -> EventOut:
        return cls.model_validate(event, from_attributes=True)


class HistoryOut(BaseModel):
    plans: list[PlanOut] = []
    attempts: list[AttemptOut] = []
    declines: list[AttemptOut] = Field(default=[], description="The attempts the gateway declined.")
    events: list[EventOut] = []


class SubscriptionDetail(SubscriptionOut):
    history: HistoryOut


class SubscriptionSummary(BaseModel):
    id: uuid.UUID
    user_id: str
    product_id: uuid.UUID
    status: SubscriptionStatus
    device_ids: list[str]
    current_period: int
    paid_through: datetime | None
    billing_day: int | None = Field(description="The day of the month periods start on; null: anniversary.")
    termination_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, contract: Contract) -> SubscriptionSummary:
        return cls(
            id=contract.id,
            user_id=contract.user_id,
            product_id=contract.product_id,
            status=contract.status,
            device_ids=list(contract.device_ids),
            current_period=contract.current_period,
            paid_through=contract.paid_through,
            billing_day=contract.billing_day,
            termination_reason=contract.termination_reason,
            created_at=contract.created_at,
        )


class SubscriptionPage(BaseModel):
    items: list[SubscriptionSummary]
    limit: int
    offset: int
