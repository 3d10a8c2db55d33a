"""verify_renewal and price_plan: the pure checks behind seed claims 3, 4 and 7."""

from __future__ import annotations

import pytest

from models.renewal import (
    ContractTerms,
    LiveDevice,
    LiveProduct,
    VerificationFailure,
    agreement_cap_minor,
    price_plan,
    verify_renewal,
)

TERMS = ContractTerms(user_id="u1", currency="CNY", agreement_status="active", agreement_cap_minor=10_000)
PRODUCT = LiveProduct(status="active", unit_price_minor=1000, currency="CNY", max_devices=5)
GROUP = ("a", "b", "c")
BOUND = [LiveDevice(d, "u1", "bound") for d in GROUP]


def test_verified_renewal_prices_every_qualifying_device_at_the_current_price() -> None:
    result = verify_renewal(terms=TERMS, product=PRODUCT, group=GROUP, devices=BOUND)
    assert result.ok
    assert result.plan is not None
    assert (result.plan.device_ids, result.plan.amount_minor) == (GROUP, 3000)


@pytest.mark.parametrize(
    ("device", "why"),
    [
        (LiveDevice("b", "u1", "unbound"), "unbound"),
        (LiveDevice("b", "u2", "bound"), "transferred"),
        (LiveDevice("b", "u1", "deleted"), "deleted"),
    ],
)
def test_devices_no_longer_bound_to_the_owner_drop_out(device: LiveDevice, why: str) -> None:
    devices = [BOUND[0], device, BOUND[2]]
    result = verify_renewal(terms=TERMS, product=PRODUCT, group=GROUP, devices=devices)
    assert result.plan is not None, why
    assert result.plan.device_ids == ("a", "c")
    assert result.dropped_device_ids == ("b",)


def test_device_missing_from_live_data_drops_out() -> None:
    result = verify_renewal(terms=TERMS, product=PRODUCT, group=GROUP, devices=BOUND[:2])
    assert result.plan is not None and result.plan.device_ids == ("a", "b")


@pytest.mark.parametrize(
    ("terms", "product", "devices", "failure"),
    [
        (TERMS, LiveProduct("discontinued", 1000, "CNY", 5), BOUND, VerificationFailure.PRODUCT_DISCONTINUED),
        (TERMS, LiveProduct("active", 1000, "USD", 5), BOUND, VerificationFailure.CURRENCY_CHANGED),
        (
            ContractTerms("u1", "CNY", "revoked", 10_000),
            PRODUCT,
            BOUND,
            VerificationFailure.AGREEMENT_INACTIVE,
        ),
        (TERMS, PRODUCT, [], VerificationFailure.NO_DEVICES),
        (TERMS, LiveProduct("active", 1000, "CNY", 2), BOUND, VerificationFailure.TOO_MANY_DEVICES),
        (
            TERMS,
            LiveProduct("active", 4000, "CNY", 5),
            BOUND,
            VerificationFailure.AMOUNT_EXCEEDS_AGREEMENT_CAP,
        ),
    ],
)
def test_renewal_is_not_verified(
    terms: ContractTerms, product: LiveProduct, devices: list[LiveDevice], failure: VerificationFailure
) -> None:
    result = verify_renewal(terms=terms, product=product, group=GROUP, devices=devices)
    assert not result.ok
    assert result.failure is failure


def test_discount_never_exceeds_the_gross_amount() -> None:
    assert price_plan(("a",), 1000, discount_minor=5000).amount_minor == 0
    assert price_plan(("a", "b"), 1000, discount_minor=500).amount_minor == 1500


def test_agreement_cap_allows_a_full_group_at_double_price() -> None:
    assert agreement_cap_minor(1500, 4) == 12_000
