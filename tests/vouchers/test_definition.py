"""Definition rules: every broken rule is reported with its field and a stable code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.catalog import Product
from tests.vouchers.support import voucher_request
from vouchers.definition import definition_problems, product_problems
from vouchers.schemas import VoucherDefinition

NOW = datetime(2026, 11, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def codes(**overrides: Any) -> set[tuple[str, str]]:
    definition = voucher_request(NOW, **overrides).resolved()
    return {(p.field, p.code) for p in definition_problems(definition)}


def test_a_plain_definition_has_no_problems() -> None:
    assert codes() == set()


def test_windows_default_to_the_validity_window_and_duration_to_one_period() -> None:
    d = voucher_request(NOW).resolved()
    assert (d.claim_starts_at, d.claim_ends_at) == (d.valid_from, d.valid_until)
    assert (d.use_starts_at, d.use_ends_at) == (d.valid_from, d.valid_until)
    assert d.duration_periods == 1
    assert voucher_request(NOW, type="free_periods", value=3).resolved().duration_periods == 3


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"valid_until": NOW - 2 * DAY}, ("valid_until", "validity_window_out_of_order")),
        (
            {"claim_starts_at": NOW + 2 * DAY, "claim_ends_at": NOW + DAY},
            ("claim_ends_at", "claim_window_out_of_order"),
        ),
        (
            {"use_starts_at": NOW + 3 * DAY, "use_ends_at": NOW + 3 * DAY},
            ("use_ends_at", "use_window_out_of_order"),
        ),
        ({"claim_starts_at": NOW - 5 * DAY}, ("claim_starts_at", "claim_window_outside_validity")),
        ({"use_ends_at": NOW + 60 * DAY}, ("use_ends_at", "use_window_outside_validity")),
        (
            {"claim_ends_at": NOW + 10 * DAY, "use_ends_at": NOW + 5 * DAY},
            ("use_ends_at", "use_window_ends_before_claim_window"),
        ),
        ({"value": 101}, ("value", "percent_over_100")),
        ({"type": "amount_off", "value": 500}, ("currency", "currency_required")),
        ({"currency": "CNY"}, ("currency", "currency_not_applicable")),
        (
            {"type": "free_periods", "value": 2, "duration_periods": 3},
            ("duration_periods", "duration_conflicts_with_free_periods"),
        ),
    ],
)
def test_each_broken_rule_names_its_field_and_code(
    overrides: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert expected in codes(**overrides)


def test_linked_products_must_exist_match_the_resource_type_and_the_currency() -> None:
    def product(resource_type: str = "cloud_video_storage", currency: str = "CNY") -> Product:
        return Product(
            id=uuid.uuid4(),
            name="p",
            resource_type=resource_type,
            billing_cycle="P1M",
            unit_price_minor=100,
            currency=currency,
        )

    good, other_type, other_currency = product(), product("doorbell_history"), product(currency="USD")
    missing = uuid.uuid4()
    d: VoucherDefinition = voucher_request(
        NOW,
        type="amount_off",
        value=500,
        currency="CNY",
        product_ids=[good.id, missing, other_type.id, other_currency.id],
    ).resolved()
    problems = product_problems(d, {p.id: p for p in (good, other_type, other_currency)})
    assert [(p.field, p.code) for p in problems] == [
        ("product_ids[1]", "unknown_product"),
        ("product_ids[2]", "product_resource_type_mismatch"),
        ("product_ids[3]", "currency_mismatch"),
    ]
