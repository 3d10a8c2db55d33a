"""The sandbox's scripted outcomes as pure rules: which check wins, and how flaky and lost tokens count."""

from __future__ import annotations

import pytest

from gateway.protocol import AgreementStatus, ChargeStatus, DeclineKind
from gateway.sandbox.scripts import Outcome, Token, decide_charge, signing_refusal
from models.money import Money

CAP = Money(amount_minor=1_000, currency="USD")


def _decide(
    token: Token,
    *,
    status: AgreementStatus = AgreementStatus.ACTIVE,
    amount: Money = CAP,
    earlier: int = 0,
) -> Outcome:
    return decide_charge(
        token=token, agreement_status=status, cap=CAP, amount=amount, earlier_charges_in_period=earlier
    )


@pytest.mark.parametrize("status", [AgreementStatus.RELEASED, AgreementStatus.REVOKED])
def test_inactive_agreement_declines_hard_before_any_other_check(status: AgreementStatus) -> None:
    outcome = _decide(Token.OK, status=status, amount=Money(amount_minor=9_999, currency="EUR"))
    assert (outcome.decline_code, outcome.decline_kind) == ("agreement_inactive", DeclineKind.HARD)


def test_currency_mismatch_declines_hard_even_under_the_cap() -> None:
    outcome = _decide(Token.OK, amount=Money(amount_minor=1, currency="EUR"))
    assert (outcome.decline_code, outcome.decline_kind) == ("currency_mismatch", DeclineKind.HARD)


def test_amount_equal_to_cap_passes_and_one_more_declines() -> None:
    assert _decide(Token.OK).status is ChargeStatus.SUCCEEDED
    over = _decide(Token.OK, amount=Money(amount_minor=1_001, currency="USD"))
    assert over.decline_code == "amount_exceeds_cap"


def test_cap_check_comes_before_the_token_script() -> None:
    outcome = _decide(Token.HARD_DECLINE, amount=Money(amount_minor=1_001, currency="USD"))
    assert outcome.decline_code == "amount_exceeds_cap"
    assert not outcome.revokes_agreement


@pytest.mark.parametrize(("earlier", "expected"), [(0, "declined"), (1, "declined"), (2, "succeeded")])
def test_flaky_token_declines_soft_until_two_charges_exist(earlier: int, expected: str) -> None:
    assert _decide(Token.FLAKY_2, earlier=earlier).status == expected


def test_lost_response_delays_only_the_first_charge_of_a_period() -> None:
    assert _decide(Token.LOST_RESPONSE, earlier=0).delays_response
    assert not _decide(Token.LOST_RESPONSE, earlier=1).delays_response


def test_only_the_hard_decline_token_revokes() -> None:
    assert _decide(Token.HARD_DECLINE).revokes_agreement
    assert not any(_decide(token).revokes_agreement for token in Token if token != Token.HARD_DECLINE)


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("sandbox_sign_declined", "agreement_rejected"),
        ("tok_live_123", "invalid_token"),
        ("", "invalid_token"),
    ],
)
def test_unsignable_tokens_are_refused_with_a_code(token: str, code: str) -> None:
    refusal = signing_refusal(token)
    assert refusal is not None
    assert refusal.code == code


def test_every_scripted_charge_token_can_be_signed() -> None:
    signable = [token for token in Token if token != Token.SIGN_DECLINED]
    assert [signing_refusal(token) for token in signable] == [None] * len(signable)
