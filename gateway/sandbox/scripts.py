"""Agreement tokens and the outcomes they script; pure rules, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.protocol import AgreementStatus, ChargeStatus, DeclineKind
from models.money import Money

FLAKY_DECLINES_PER_PERIOD = 2


class Token(StrEnum):
    OK = "sandbox_ok"
    SOFT_DECLINE = "sandbox_soft_decline"
    HARD_DECLINE = "sandbox_hard_decline"
    FLAKY_2 = "sandbox_flaky_2"
    LOST_RESPONSE = "sandbox_lost_response"
    SIGN_DECLINED = "sandbox_sign_declined"


SIGNABLE_TOKENS = frozenset(
    {Token.OK, Token.SOFT_DECLINE, Token.HARD_DECLINE, Token.FLAKY_2, Token.LOST_RESPONSE}
)


@dataclass(frozen=True)
class SigningRefusal:
    code: str
    detail: str


@dataclass(frozen=True)
class Outcome:
    status: ChargeStatus
    decline_code: str | None = None
    decline_kind: DeclineKind | None = None
    revokes_agreement: bool = False
    delays_response: bool = False


SUCCEEDED = Outcome(ChargeStatus.SUCCEEDED)


def _hard(code: str, *, revokes_agreement: bool = False) -> Outcome:
    return Outcome(ChargeStatus.DECLINED, code, DeclineKind.HARD, revokes_agreement=revokes_agreement)


def signing_refusal(token: str) -> SigningRefusal | None:
    """Why a token cannot be signed, or None when it can."""
    if token in SIGNABLE_TOKENS:
        return None
    if token == Token.SIGN_DECLINED:
        return SigningRefusal("agreement_rejected", "the payer declined to sign the agreement")
    return SigningRefusal("invalid_token", f"unknown agreement token {token!r}")


def decide_charge(
    *,
    token: str,
    agreement_status: AgreementStatus,
    cap: Money,
    amount: Money,
    earlier_charges_in_period: int,
) -> Outcome:
    """The outcome of a new charge, given how many charges this agreement already has for the period."""
    if agreement_status is not AgreementStatus.ACTIVE:
        return _hard("agreement_inactive")
    if amount.currency != cap.currency:
        return _hard("currency_mismatch")
    if amount.amount_minor > cap.amount_minor:
        return _hard("amount_exceeds_cap")
    if token == Token.SOFT_DECLINE:
        return Outcome(ChargeStatus.DECLINED, "insufficient_funds", DeclineKind.SOFT)
    if token == Token.HARD_DECLINE:
        return _hard("agreement_revoked", revokes_agreement=True)
    if token == Token.FLAKY_2 and earlier_charges_in_period < FLAKY_DECLINES_PER_PERIOD:
        return Outcome(ChargeStatus.DECLINED, "insufficient_funds", DeclineKind.SOFT)
    if token == Token.LOST_RESPONSE and earlier_charges_in_period == 0:
        return Outcome(ChargeStatus.SUCCEEDED, delays_response=True)
    return SUCCEEDED
