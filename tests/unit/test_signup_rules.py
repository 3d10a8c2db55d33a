"""Signup validation over facts already read: the one family of checks the API and the signing activity
both run, each refusal naming its field and code."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from models.messages import SignContractInput
from models.renewal import LiveDevice
from models.signup import (
    DeviceHolder,
    ProductTerms,
    SignupFacts,
    SignupRefused,
    check_devices_joinable,
    check_signup,
    parse_product_id,
    parse_voucher_claim_id,
    refuse_if_held,
    signed_billing_day,
)

PRODUCT = ProductTerms(
    id=uuid.uuid4(),
    name="video",
    resource_type="video",
    status="active",
    max_devices=2,
    unit_price_minor=100,
    currency="CNY",
    price_version=1,
    billing_cycle="P1M",
    dunning_delays_seconds=[60],
    dunning_max_attempts=3,
)
BOUND = [LiveDevice("a", "u1", "bound"), LiveDevice("b", "u1", "bound")]


def _request(**changes: object) -> SignContractInput:
    fields: dict[str, object] = {
        "contract_id": str(uuid.uuid4()),
        "user_id": "u1",
        "product_id": str(PRODUCT.id),
        "device_ids": ("a", "b"),
        "agreement_token": "sandbox_ok",
        "requested_at": datetime(2026, 1, 31, tzinfo=UTC),
    }
    return SignContractInput.model_validate(fields | changes)


def _refusal(request: SignContractInput, facts: SignupFacts) -> tuple[str, str]:
    with pytest.raises(SignupRefused) as refused:
        check_signup(request, facts)
    return refused.value.field, refused.value.code


def test_a_valid_signup_returns_the_product_terms() -> None:
    assert check_signup(_request(), SignupFacts(PRODUCT, BOUND, None)) is PRODUCT


FACTS = SignupFacts(PRODUCT, BOUND, None)
UNBOUND_B = SignupFacts(PRODUCT, [BOUND[0], LiveDevice("b", "u1", "unbound")], None)
DISCONTINUED = SignupFacts(replace(PRODUCT, status="discontinued"), BOUND, None)


@pytest.mark.parametrize(
    ("request_changes", "facts", "refusal"),
    [
        ({}, SignupFacts(None, BOUND, None), ("product_id", "unknown_product")),
        ({}, DISCONTINUED, ("product_id", "product_discontinued")),
        ({"device_ids": ()}, FACTS, ("device_ids", "no_devices")),
        ({"device_ids": ("a", "a")}, FACTS, ("device_ids", "duplicate_devices")),
        ({"device_ids": ("a", "b", "c")}, FACTS, ("device_ids", "too_many_devices")),
        ({"user_id": "u2"}, FACTS, ("device_ids", "unknown_device")),
        ({}, UNBOUND_B, ("device_ids", "device_not_bound")),
        ({"timezone": "Mars/Olympus"}, FACTS, ("timezone", "unknown_timezone")),
    ],
)
def test_each_refusal_names_its_field_and_code(
    request_changes: dict[str, object], facts: SignupFacts, refusal: tuple[str, str]
) -> None:
    assert _refusal(_request(**request_changes), facts) == refusal


def test_a_held_device_is_left_to_the_caller_and_refused_by_refuse_if_held() -> None:
    holder = DeviceHolder(uuid.uuid4(), "b")
    assert check_signup(_request(), SignupFacts(PRODUCT, BOUND, holder)) is PRODUCT
    with pytest.raises(
        SignupRefused, match="device b already has a running subscription for video"
    ) as refused:
        refuse_if_held(holder, resource_type="video")
    assert (refused.value.field, refused.value.code) == ("device_ids", "device_already_subscribed")
    refuse_if_held(None, resource_type="video")


def test_devices_joining_a_group_meet_the_signups_device_checks() -> None:
    check_devices_joinable(["a", "b"], owner_user_id="u1", live=BOUND)
    for device_ids, owner, code in [
        (["a", "a"], "u1", "duplicate_devices"),
        (["a", "c"], "u1", "unknown_device"),
        (["a"], "u2", "unknown_device"),
    ]:
        with pytest.raises(SignupRefused) as refused:
            check_devices_joinable(device_ids, owner_user_id=owner, live=BOUND)
        assert refused.value.code == code


def test_ids_that_are_not_uuids_are_refused_by_field() -> None:
    assert parse_voucher_claim_id(None) is None
    for parse, field in [(parse_product_id, "product_id"), (parse_voucher_claim_id, "voucher_claim_id")]:
        with pytest.raises(SignupRefused, match=f"{field} is not a UUID") as refused:
            parse("nope")
        assert refused.value.code == f"invalid_{field}"


ALIGNED = replace(PRODUCT, billing_day=1)
CHOOSABLE = replace(PRODUCT, signup_billing_day_allowed=True)
DAILY_CHOOSABLE = replace(CHOOSABLE, billing_cycle="P30D")


@pytest.mark.parametrize(
    ("product", "day", "expected"),
    [
        (PRODUCT, None, None),  # anniversary
        (ALIGNED, None, 1),  # the product's day
        (CHOOSABLE, 15, 15),  # the signup's own
        (replace(CHOOSABLE, billing_day=1), 28, 28),  # the signup's overrides the product's
        (replace(CHOOSABLE, billing_day=1), None, 1),
    ],
)
def test_the_contract_is_signed_with_the_signups_day_where_allowed_else_the_products(
    product: ProductTerms, day: int | None, expected: int | None
) -> None:
    request = _request(billing_day=day)
    assert check_signup(request, SignupFacts(product, BOUND, None)) is product
    assert signed_billing_day(request, product) == expected


@pytest.mark.parametrize(
    ("product", "day", "code", "says"),
    [
        (ALIGNED, 15, "billing_day_not_allowed", "day 1"),
        (PRODUCT, 15, "billing_day_not_allowed", "anniversary"),
        (CHOOSABLE, 0, "invalid_billing_day", "from 1 to 28"),
        (CHOOSABLE, 29, "invalid_billing_day", "from 1 to 28"),
        (CHOOSABLE, 31, "invalid_billing_day", "from 1 to 28"),
        (DAILY_CHOOSABLE, 1, "billing_day_needs_monthly_cycle", "P1M"),
    ],
)
def test_a_billing_day_the_product_does_not_take_is_refused_saying_what_is_allowed(
    product: ProductTerms, day: int, code: str, says: str
) -> None:
    with pytest.raises(SignupRefused) as refused:
        check_signup(_request(billing_day=day), SignupFacts(product, BOUND, None))
    assert (refused.value.field, refused.value.code) == ("billing_day", code)
    assert says in refused.value.message


def test_an_unknown_time_zone_is_refused_with_examples_of_real_ones() -> None:
    with pytest.raises(SignupRefused) as refused:
        check_signup(_request(timezone="Mars/Olympus_Mons"), FACTS)
    assert (refused.value.field, refused.value.code) == ("timezone", "unknown_timezone")
    assert "IANA" in refused.value.message and "Europe/Berlin" in refused.value.message
