"""Money as integer minor units plus an ISO 4217 currency code; never floats."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

# ISO 4217 minor-unit exponents that differ from the usual 2: currencies with no minor unit (yen, won), and
# the dinars of Bahrain, Iraq, Jordan, Kuwait, Libya, Oman and Tunisia, counted in thousandths.
_NO_MINOR_UNIT = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF"
_THOUSANDTHS = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENTS: Mapping[str, int] = {
    **dict.fromkeys(_NO_MINOR_UNIT.split(), 0),
    **dict.fromkeys(_THOUSANDTHS.split(), 3),
}


def minor_unit_exponent(currency: str) -> int:
    """How many decimal places the currency's minor unit is: 2 for CNY and USD, 0 for JPY, 3 for KWD."""
    return _EXPONENTS.get(currency, 2)


def prorate_minor(amount_minor: int, numerator: int, denominator: int) -> int:
    """`amount_minor * numerator / denominator`, rounded half-up to a whole minor unit (the currency's
    exponent): exact integer arithmetic, so 0.5 of a fen or a yen always rounds up, whatever the size."""
    if amount_minor < 0 or denominator <= 0 or not 0 <= numerator <= denominator:
        raise ValueError("a share is 0 to 1 of a non-negative amount")
    return (2 * amount_minor * numerator + denominator) // (2 * denominator)


class Money(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    amount_minor: int = Field(ge=0, description="Amount in the currency's minor unit (cents, fen).")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD, CNY.")

    def times(self, factor: int) -> Money:
        return Money(amount_minor=self.amount_minor * factor, currency=self.currency)

    def __str__(self) -> str:
        exponent = minor_unit_exponent(self.currency)
        major, minor = divmod(self.amount_minor, 10**exponent)
        return f"{major}.{minor:0{exponent}d} {self.currency}" if exponent else f"{major} {self.currency}"
