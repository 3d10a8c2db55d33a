"""The rules a voucher definition must keep, each broken rule reported with its field and a stable code.

Pure: `definition_problems` sees only the definition; `product_problems` gets the linked products."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from models.catalog import Product
from models.voucher import VoucherType
from vouchers.errors import FieldProblem, InvalidVoucher
from vouchers.schemas import MAX_DURATION_PERIODS, VoucherDefinition

# Fields an operator may still change once the voucher is enabled: none of them moves a timer of the
# lifecycle workflow or changes what a claim already made is worth.
SAFE_FIELDS = frozenset({"name", "stock", "audience"})


def _window_problems(d: VoucherDefinition) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    windows = {
        "validity": (d.valid_from, d.valid_until, "valid_until"),
        "claim": (d.claim_starts_at, d.claim_ends_at, "claim_ends_at"),
        "use": (d.use_starts_at, d.use_ends_at, "use_ends_at"),
    }
    for name, (start, end, field) in windows.items():
        if end <= start:
            problems.append(
                FieldProblem(
                    field, f"{name}_window_out_of_order", f"the {name} window must end after it starts"
                )
            )
    for name, field_start, field_end, start, end in (
        ("claim", "claim_starts_at", "claim_ends_at", d.claim_starts_at, d.claim_ends_at),
        ("use", "use_starts_at", "use_ends_at", d.use_starts_at, d.use_ends_at),
    ):
        if start < d.valid_from:
            problems.append(
                FieldProblem(
                    field_start,
                    f"{name}_window_outside_validity",
                    f"the {name} window starts before valid_from",
                )
            )
        if end > d.valid_until:
            problems.append(
                FieldProblem(
                    field_end, f"{name}_window_outside_validity", f"the {name} window ends after valid_until"
                )
            )
    if d.use_ends_at < d.claim_ends_at:
        problems.append(
            FieldProblem(
                "use_ends_at",
                "use_window_ends_before_claim_window",
                "the use window must not end before the claim window: a late claim could never be used",
            )
        )
    return problems


def _value_problems(d: VoucherDefinition) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if d.type is VoucherType.PERCENT_OFF and d.value > 100:
        problems.append(FieldProblem("value", "percent_over_100", "a percent_off value must be 1-100"))
    if d.type is VoucherType.AMOUNT_OFF and d.currency is None:
        problems.append(
            FieldProblem("currency", "currency_required", "an amount_off voucher needs a currency")
        )
    if d.type is not VoucherType.AMOUNT_OFF and d.currency is not None:
        problems.append(
            FieldProblem("currency", "currency_not_applicable", f"a {d.type.value} voucher has no currency")
        )
    if d.type is VoucherType.FREE_PERIODS and d.value > MAX_DURATION_PERIODS:
        problems.append(
            FieldProblem(
                "value", "too_many_free_periods", f"a free_periods value must be 1-{MAX_DURATION_PERIODS}"
            )
        )
    elif d.type is VoucherType.FREE_PERIODS and d.duration_periods != d.value:
        problems.append(
            FieldProblem(
                "duration_periods",
                "duration_conflicts_with_free_periods",
                "a free_periods voucher lasts exactly its value in periods",
            )
        )
    if len(set(d.product_ids)) != len(d.product_ids):
        problems.append(FieldProblem("product_ids", "duplicate_products", "product_ids contains duplicates"))
    return problems


def definition_problems(d: VoucherDefinition) -> list[FieldProblem]:
    return _window_problems(d) + _value_problems(d)


def product_problems(d: VoucherDefinition, products: Mapping[uuid.UUID, Product]) -> list[FieldProblem]:
    """Linked products must exist, be of the voucher's resource type and, for amount_off, its currency."""
    problems: list[FieldProblem] = []
    for index, product_id in enumerate(d.product_ids):
        field = f"product_ids[{index}]"
        product = products.get(product_id)
        if product is None:
            problems.append(FieldProblem(field, "unknown_product", f"unknown product {product_id}"))
        elif product.resource_type != d.resource_type:
            problems.append(
                FieldProblem(
                    field,
                    "product_resource_type_mismatch",
                    f"product {product_id} provides {product.resource_type}, not {d.resource_type}",
                )
            )
        elif d.currency is not None and product.currency != d.currency:
            problems.append(
                FieldProblem(
                    field, "currency_mismatch", f"product {product_id} is sold in {product.currency}"
                )
            )
    return problems


def check_definition(d: VoucherDefinition, products: Mapping[uuid.UUID, Product], *, now: datetime) -> None:
    problems = definition_problems(d) + product_problems(d, products)
    if d.valid_until <= now:
        problems.append(FieldProblem("valid_until", "validity_already_ended", "valid_until is in the past"))
    if problems:
        raise InvalidVoucher(problems)
