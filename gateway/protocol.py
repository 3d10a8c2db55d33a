"""What the engine needs from a payment gateway: sign a recurring agreement, charge it idempotently,
release it. Implementations: `gateway.http_client.HttpPaymentGateway` (talks to any service speaking the
sandbox's HTTP contract, including the sandbox in `gateway.sandbox`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from models.enums import DeclineKind as DeclineKind
from models.money import Money


class ChargeStatus(StrEnum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"


class AgreementStatus(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"
    REVOKED = "revoked"


class Agreement(BaseModel):
    model_config = ConfigDict(frozen=True)

    agreement_id: str
    status: AgreementStatus
    single_charge_cap: Money


class ChargeReference(BaseModel):
    """Business keys the gateway records beside a charge (and the sandbox uses to script outcomes)."""

    model_config = ConfigDict(frozen=True)

    contract_id: str
    period: int
    attempt: int


class ChargeResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    charge_id: str
    status: ChargeStatus
    amount: Money
    idempotency_key: str
    decline_code: str | None = None
    decline_kind: DeclineKind | None = None


class GatewayError(Exception):
    """Base of gateway failures."""


class GatewayUnavailable(GatewayError):
    """Timeout, connection refused or 5xx: the outcome is unknown; retry with the same idempotency key."""


class AgreementRejected(GatewayError):
    """Signing refused for good (bad token, revoked account). Carries the gateway's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class GatewayRequestError(GatewayError):
    """4xx other than a decision: our request was wrong (e.g. idempotency key reused with another body)."""


class PaymentGateway(Protocol):
    def sign_agreement(
        self, *, agreement_token: str, reference: str, user_id: str, single_charge_cap: Money
    ) -> Agreement:
        """Sign (or return the already-signed) agreement for `reference` (our contract id)."""
        ...

    def charge(
        self, *, agreement_id: str, amount: Money, idempotency_key: str, reference: ChargeReference
    ) -> ChargeResult:
        """Charge once per idempotency key: a repeat with the same key returns the first result."""
        ...

    def release_agreement(self, *, agreement_id: str) -> Agreement:
        """Release the agreement; releasing a released agreement is not an error."""
        ...

    def close(self) -> None: ...
