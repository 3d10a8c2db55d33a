"""The reads a signup is validated on, sent together, and its validation: the pure checks of
`models.signup` over what was read, then the voucher claim's, which reads again."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.rows import class_row
from sqlmodel import Session

from contracts.devices import holder_of, send_live_devices, send_product_device_holder
from infra.db import driver_connection
from models.messages import SignContractInput
from models.signup import (
    ProductTerms,
    SignupFacts,
    SignupRefused,
    check_signup,
    parse_product_id,
    parse_voucher_claim_id,
)
from vouchers.errors import VoucherNotUsable
from vouchers.redemption import check_claim_usable

_PRODUCT = """
SELECT id, name, resource_type, status, max_devices, unit_price_minor, currency, price_version,
       billing_cycle, dunning_delays_seconds, dunning_max_attempts, billing_day, signup_billing_day_allowed
FROM products WHERE id = %s
"""


def send_product_terms(db: psycopg.Connection[Any], product_id: uuid.UUID) -> psycopg.Cursor[ProductTerms]:
    return db.cursor(row_factory=class_row(ProductTerms)).execute(_PRODUCT, (product_id,))


def product_terms(session: Session, product_id: uuid.UUID) -> ProductTerms | None:
    return send_product_terms(driver_connection(session), product_id).fetchone()


def send_signup_reads(db: psycopg.Connection[Any], request: SignContractInput) -> Callable[[], SignupFacts]:
    """Send the reads validation needs, none depending on another's answer, so that they can go in one
    round trip (`reads_alone`) with whatever else the caller reads. The returned function collects the
    answers once they are in. A product id that is not a UUID is refused before anything is sent."""
    product_id = parse_product_id(request.product_id)
    product = send_product_terms(db, product_id)
    devices = send_live_devices(db, request.device_ids)
    holder = send_product_device_holder(
        db,
        product_id=product_id,
        device_ids=request.device_ids,
        exclude_contract=uuid.UUID(request.contract_id),
    )

    def collect() -> SignupFacts:
        return SignupFacts(
            product=product.fetchone(),
            devices=devices.fetchall(),
            holder=holder_of(holder, request.device_ids),
        )

    return collect


def validate_signup(session: Session, request: SignContractInput, facts: SignupFacts) -> ProductTerms:
    """`check_signup`, then whether the voucher claim (if any) may pay towards this product now."""
    product = check_signup(request, facts)
    claim_id = parse_voucher_claim_id(request.voucher_claim_id)
    if claim_id is not None:
        try:
            check_claim_usable(
                session,
                claim_id=claim_id,
                user_id=request.user_id,
                product_id=product.id,
                now=request.requested_at,
            )
        except VoucherNotUsable as unusable:
            raise claim_refused(unusable) from None
    return product


def claim_refused(unusable: VoucherNotUsable) -> SignupRefused:
    return SignupRefused(unusable.message, field="voucher_claim_id", code=unusable.code)
