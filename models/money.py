"""Money as integer minor units plus an ISO 4217 currency code; never floats."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Money(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    amount_minor: int = Field(ge=0, description="Amount in the currency's minor unit (cents, fen).")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD, CNY.")

    def times(self, factor: int) -> Money:
        return Money(amount_minor=self.amount_minor * factor, currency=self.currency)

    def __str__(self) -> str:
        return f"{self.amount_minor / 100:.2f} {self.currency}"
