"""Request and ledger bodies of the sandbox's HTTP contract (responses reuse `gateway.protocol` types)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gateway.protocol import ChargeReference, ChargeResult
from models.money import Money


class SignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agreement_token: str = Field(min_length=1, max_length=100)
    reference: str = Field(min_length=1, max_length=200, description="The caller's contract id.")
    user_id: str = Field(min_length=1, max_length=200)
    single_charge_cap: Money


class ChargeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agreement_id: str = Field(min_length=1, max_length=64)
    amount: Money
    idempotency_key: str = Field(min_length=1, max_length=200)
    reference: ChargeReference

    def same_charge_as(self, stored: LedgerCharge) -> bool:
        """Whether a stored charge under this request's key was made by an identical request."""
        return (
            stored.agreement_id == self.agreement_id
            and stored.amount == self.amount
            and stored.reference == self.reference
        )


class LedgerCharge(ChargeResult):
    """One row of the gateway's ledger: the charge result plus what it was for."""

    agreement_id: str
    reference: ChargeReference
    created_at: datetime

    def result(self) -> ChargeResult:
        return ChargeResult.model_validate(self.model_dump(include=set(ChargeResult.model_fields)))


class Health(BaseModel):
    status: str
