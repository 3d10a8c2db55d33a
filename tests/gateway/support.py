"""Small helpers shared by the gateway tests."""

from __future__ import annotations

from typing import Protocol

from gateway.protocol import Agreement, ChargeReference, ChargeResult, PaymentGateway
from models.money import Money

CAP = Money(amount_minor=5_000, currency="USD")
PRICE = Money(amount_minor=1_999, currency="USD")


class SignAgreement(Protocol):
    def __call__(self, token: str, *, cap: Money = CAP, reference: str | None = None) -> Agreement: ...


def charge(
    gateway: PaymentGateway,
    agreement: Agreement,
    contract_id: str,
    *,
    period: int = 0,
    attempt: int = 1,
    amount: Money = PRICE,
    key: str | None = None,
) -> ChargeResult:
    """Charge with the engine's key scheme (contract, period, attempt) unless a key is given."""
    return gateway.charge(
        agreement_id=agreement.agreement_id,
        amount=amount,
        idempotency_key=key or f"{contract_id}:{period}:{attempt}",
        reference=ChargeReference(contract_id=contract_id, period=period, attempt=attempt),
    )
