"""Pure node rules: discounts per period and whether a claim may be used."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.catalog import Product
from models.voucher import ClaimStatus, Voucher, VoucherClaim, VoucherStatus, VoucherType
from vouchers.rules import claim_refusal, discount_minor, usability_problem

NOW = datetime(2026, 11, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def voucher(**fields: Any) -> Voucher:
    defaults: dict[str, Any] = {
        "id": uuid.uuid4(),
        "name": "v",
        "type": VoucherType.PERCENT_OFF,
        "value": 25,
        "resource_type": "cloud_video_storage",
        "product_ids": [],
        "valid_from": NOW - DAY,
        "valid_until": NOW + 30 * DAY,
        "claim_starts_at": NOW - DAY,
        "claim_ends_at": NOW + 10 * DAY,
        "use_starts_at": NOW - DAY,
        "use_ends_at": NOW + 20 * DAY,
        "stock": 10,
        "per_user_limit": 1,
        "audience": [],
        "duration_periods": 1,
        "status": VoucherStatus.ENABLED,
    }
    return Voucher(**(defaults | fields))


@pytest.mark.parametrize(
    ("kind", "value", "duration", "period", "gross", "expected"),
    [
        (VoucherType.PERCENT_OFF, 25, 1, 0, 4500, 1125),
        (VoucherType.PERCENT_OFF, 33, 1, 0, 1001, 330),  # rounds down: the user pays the odd unit
        (VoucherType.PERCENT_OFF, 25, 1, 1, 4500, 0),  # outside the duration
        (VoucherType.PERCENT_OFF, 25, 3, 2, 4500, 1125),
        (VoucherType.AMOUNT_OFF, 500, 1, 0, 4500, 500),
        (VoucherType.AMOUNT_OFF, 9000, 1, 0, 4500, 4500),  # capped at the gross
        (VoucherType.FREE_PERIODS, 2, 2, 0, 4500, 4500),
        (VoucherType.FREE_PERIODS, 2, 2, 1, 4500, 4500),
        (VoucherType.FREE_PERIODS, 2, 2, 2, 4500, 0),
        (VoucherType.PERCENT_OFF, 100, 1, 0, 0, 0),
    ],
)
def test_discount_per_period(
    kind: VoucherType, value: int, duration: int, period: int, gross: int, expected: int
) -> None:
    v = voucher(type=kind, value=value, duration_periods=duration, currency="CNY")
    assert discount_minor(voucher=v, period=period, gross_minor=gross) == expected


def _product(**fields: Any) -> Product:
    defaults: dict[str, Any] = {
        "id": uuid.uuid4(),
        "name": "p",
        "resource_type": "cloud_video_storage",
        "billing_cycle": "P1M",
        "unit_price_minor": 1500,
        "currency": "CNY",
    }
    return Product(**(defaults | fields))


def _code(
    v: Voucher, claim: VoucherClaim, product: Product | None, *, contract: uuid.UUID | None = None
) -> str | None:
    problem = usability_problem(
        voucher=v, claim=claim, product=product, user_id="alice", contract_id=contract, now=NOW
    )
    return problem.code if problem else None


def test_usability_rules() -> None:
    v = voucher()
    product = _product()
    claim = VoucherClaim(id=uuid.uuid4(), voucher_id=v.id, user_id="alice", status=ClaimStatus.CLAIMED)
    mine = uuid.uuid4()
    assert _code(v, claim, product) is None
    assert _code(v, claim.model_copy(update={"user_id": "bob"}), product) == "claim_not_found"
    assert _code(v, claim.model_copy(update={"status": ClaimStatus.USED}), product) == "claim_used"
    assert _code(v, claim.model_copy(update={"status": ClaimStatus.EXPIRED}), product) == "claim_expired"
    held = claim.model_copy(update={"contract_id": uuid.uuid4()})
    assert _code(v, held, product, contract=mine) == "claim_reserved"
    assert _code(v, claim.model_copy(update={"contract_id": mine}), product, contract=mine) is None
    assert _code(voucher(status=VoucherStatus.TERMINATED), claim, product) == "voucher_terminated"
    assert _code(voucher(use_starts_at=NOW + DAY), claim, product) == "use_window_not_started"
    assert _code(voucher(use_ends_at=NOW), claim, product) == "use_window_ended"
    assert _code(v, claim, None) == "unknown_product"
    assert _code(v, claim, _product(resource_type="doorbell_history")) == "product_not_covered"
    assert _code(voucher(product_ids=[uuid.uuid4()]), claim, product) == "product_not_covered"
    assert _code(voucher(product_ids=[product.id]), claim, product) is None
    dollars = voucher(type=VoucherType.AMOUNT_OFF, value=500, currency="USD")
    assert _code(dollars, claim, product) == "currency_mismatch"


def test_claim_refusals_in_order_of_precedence() -> None:
    def code(v: Voucher | None, held: int = 0, user: str = "alice", claimed: int = 0) -> str | None:
        refusal = claim_refusal(v, user_id=user, claims_held=held, claimed=claimed, now=NOW)
        return refusal.code if refusal else None

    assert code(voucher()) is None
    assert code(None) == "voucher_not_found"
    assert code(voucher(status=VoucherStatus.DRAFT)) == "voucher_not_found"
    assert code(voucher(status=VoucherStatus.TERMINATED)) == "voucher_terminated"
    assert code(voucher(audience=["bob"])) == "not_in_audience"
    assert code(voucher(audience=["bob"]), user="bob") is None
    assert (
        code(voucher(status=VoucherStatus.SCHEDULED, claim_starts_at=NOW + DAY)) == "claim_window_not_started"
    )
    assert code(voucher(claim_ends_at=NOW)) == "claim_window_ended"
    assert code(voucher(), claimed=9) is None
    assert code(voucher(), claimed=10) == "sold_out"
    assert code(voucher(), held=1) == "per_user_limit_reached"
