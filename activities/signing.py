"""Claim 1: validate the signup, sign the payment agreement, write the contract. Nothing is written when
the input is bad or the gateway refuses; a retry after a crash finds the agreement and the contract."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from psycopg.types.json import Jsonb
from sqlmodel import Session
from temporalio.exceptions import ApplicationError

from activities.device_groups import (
    HOLDER_OF_RESOURCE,
    NON_FINAL,
    device_holder,
    holder_of,
    live_devices_of,
    lock_user_resource,
    send_live_devices,
    send_product_device_holder,
)
from gateway.protocol import Agreement, AgreementRejected, PaymentGateway
from infra.db import SessionFactory, driver_connection, reads_alone, transaction
from models.cycle import BillingCycle
from models.enums import DeviceStatus, ProductStatus
from models.messages import SignContractInput, SignedContract
from models.money import Money
from models.names import AGREEMENT_REJECTED, INVALID_SUBSCRIPTION
from models.renewal import LiveDevice, agreement_cap_minor
from vouchers.errors import VoucherNotUsable
from vouchers.redemption import check_claim_usable, release_claim, reserve_claim


def invalid(message: str, *, field: str, code: str) -> ApplicationError:
    return ApplicationError(
        message, {"field": field, "code": code}, type=INVALID_SUBSCRIPTION, non_retryable=True
    )


@dataclass(frozen=True)
class ProductTerms:
    """What signing needs of a product, read in one statement (this runs on every signup, twice)."""

    id: uuid.UUID
    name: str
    resource_type: str
    status: str
    max_devices: int
    unit_price_minor: int
    currency: str
    price_version: int
    billing_cycle: str
    dunning_delays_seconds: list[int]
    dunning_max_attempts: int


_PRODUCT = """
SELECT id, name, resource_type, status, max_devices, unit_price_minor, currency, price_version,
       billing_cycle, dunning_delays_seconds, dunning_max_attempts
FROM products WHERE id = %s
"""

_SIGNED_CONTRACT = f"""
WITH contract AS (
    INSERT INTO contracts (id, user_id, product_id, resource_type, unit_price_minor, currency, price_version,
                           billing_cycle, timezone, device_ids, agreement_id, agreement_status,
                           agreement_cap_minor, status, anchor_at, current_period, voucher_claim_id)
    -- Typed where the holder's look-up uses the same parameter.
    SELECT %(id)s, %(user_id)s, %(product_id)s, %(resource_type)s::varchar, %(unit_price_minor)s,
           %(currency)s, %(price_version)s, %(billing_cycle)s, %(timezone)s, %(device_ids)s::varchar[],
           %(agreement_id)s, %(agreement_status)s, %(agreement_cap_minor)s, 'signing', %(anchor_at)s, 0,
           %(voucher_claim_id)s
    WHERE NOT EXISTS ({HOLDER_OF_RESOURCE})
    RETURNING id
), signed AS (
    INSERT INTO contract_events (contract_id, dedup_key, kind, detail)
    SELECT id, %(dedup_key)s, 'signed', %(detail)s FROM contract
    ON CONFLICT (dedup_key) DO NOTHING
)
SELECT id FROM contract
"""


def product_terms(session: Session, product_id: uuid.UUID) -> ProductTerms | None:
    row = driver_connection(session).execute(_PRODUCT, (product_id,)).fetchone()
    return None if row is None else ProductTerms(*row)


@dataclass(frozen=True)
class SignupFacts:
    """What a signup's validation reads: the product, the devices as they are now, and a running
    subscription for the product's resource that already holds one of the devices."""

    product: ProductTerms | None
    devices: list[LiveDevice]
    holder: tuple[uuid.UUID, str] | None


def send_signup_reads(db: psycopg.Connection[Any], request: SignContractInput) -> Callable[[], SignupFacts]:
    """Send the reads validation needs, none depending on another's answer, so that they can go in one
    round trip (`reads_alone`) with whatever else the caller reads. The returned function collects the
    answers once they are in. A product id that is not a UUID is refused before anything is sent."""
    try:
        product_id = uuid.UUID(request.product_id)
    except ValueError:
        raise invalid("product_id is not a UUID", field="product_id", code="invalid_product_id") from None
    product = db.execute(_PRODUCT, (product_id,))
    devices = send_live_devices(db, request.device_ids)
    holder = send_product_device_holder(
        db,
        product_id=product_id,
        device_ids=request.device_ids,
        exclude_contract=uuid.UUID(request.contract_id),
    )

    def collect() -> SignupFacts:
        row = product.fetchone()
        return SignupFacts(
            product=None if row is None else ProductTerms(*row),
            devices=live_devices_of(devices),
            holder=holder_of(holder, request.device_ids),
        )

    return collect


def validate_signup(session: Session, request: SignContractInput, facts: SignupFacts) -> ProductTerms:
    """Every reason a signup cannot proceed, as a non-retryable error naming the field, except a device
    another subscription holds (`facts.holder`): the API and the activity answer that one differently."""
    product = facts.product
    if product is None:
        raise invalid(f"unknown product {request.product_id}", field="product_id", code="unknown_product")
    if product.status != ProductStatus.ACTIVE:
        raise invalid("product is discontinued", field="product_id", code="product_discontinued")
    devices = request.device_ids
    if not devices:
        raise invalid("device_ids must not be empty", field="device_ids", code="no_devices")
    if len(set(devices)) != len(devices):
        raise invalid("device_ids contains duplicates", field="device_ids", code="duplicate_devices")
    if len(devices) > product.max_devices:
        raise invalid(
            f"at most {product.max_devices} devices per group", field="device_ids", code="too_many_devices"
        )
    found = {d.device_id: d for d in facts.devices}
    for device_id in devices:
        device = found.get(device_id)
        # Someone else's device is reported as unknown: its existence is not ours to reveal.
        if device is None or device.owner_user_id != request.user_id:
            raise invalid(f"unknown device {device_id}", field="device_ids", code="unknown_device")
        if device.status != DeviceStatus.BOUND:
            raise invalid(f"device {device_id} is not bound", field="device_ids", code="device_not_bound")
    try:
        ZoneInfo(request.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(
            f"unknown time zone {request.timezone!r}", field="timezone", code="unknown_timezone"
        ) from None
    claim_id = voucher_claim_id(request)
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
            raise invalid(unusable.message, field="voucher_claim_id", code=unusable.code) from None
    return product


def voucher_claim_id(request: SignContractInput) -> uuid.UUID | None:
    if request.voucher_claim_id is None:
        return None
    try:
        return uuid.UUID(request.voucher_claim_id)
    except ValueError:
        raise invalid(
            "voucher_claim_id is not a UUID", field="voucher_claim_id", code="invalid_voucher_claim_id"
        ) from None


class SignedFields(NamedTuple):
    """The contract's side of the signing answer: as written now, or as found by a retry."""

    contract_id: uuid.UUID
    agreement_id: str
    anchor_at: datetime
    device_ids: Sequence[str]
    billing_cycle: str
    resource_type: str


_SIGNED = """
SELECT id, agreement_id, anchor_at, device_ids, billing_cycle, resource_type, product_id
FROM contracts WHERE id = %s
"""


def signed_view(fields: SignedFields, product: ProductTerms) -> SignedContract:
    return SignedContract(
        contract_id=str(fields.contract_id),
        agreement_id=fields.agreement_id,
        anchor_at=fields.anchor_at,
        billing_cycle=fields.billing_cycle,
        resource_type=fields.resource_type,
        device_ids=tuple(fields.device_ids),
        dunning_delays_seconds=tuple(product.dunning_delays_seconds),
        dunning_max_attempts=product.dunning_max_attempts,
        max_devices=product.max_devices,
    )


def sign_contract(
    *, sessions: SessionFactory, gateway: PaymentGateway, request: SignContractInput
) -> SignedContract:
    contract_id = uuid.UUID(request.contract_id)
    with transaction(sessions) as session:
        db = driver_connection(session)
        with reads_alone(db):
            collect = send_signup_reads(db, request)
            signed = db.execute(_SIGNED, (contract_id,))
        existing = signed.fetchone()
        facts = collect()
        if existing is not None:  # a retry after the contract was written
            terms = facts.product
            if terms is None or terms.id != existing[6]:
                terms = product_terms(session, existing[6])
            assert terms is not None  # foreign key
            return signed_view(SignedFields(*existing[:6]), terms)
        product = validate_signup(session, request, facts)
        BillingCycle.parse(product.billing_cycle)
        refuse_if_held(facts.holder, resource_type=product.resource_type)
        claim_id = voucher_claim_id(request)
        if claim_id is not None:
            # Held before the agreement is signed: a claim cannot pay towards two subscriptions.
            try:
                reserve_claim(
                    session,
                    claim_id=claim_id,
                    user_id=request.user_id,
                    product_id=product.id,
                    contract_id=contract_id,
                    now=request.requested_at,
                )
            except VoucherNotUsable as unusable:
                raise invalid(unusable.message, field="voucher_claim_id", code=unusable.code) from None

    cap = Money(
        amount_minor=agreement_cap_minor(product.unit_price_minor, product.max_devices),
        currency=product.currency,
    )
    try:
        agreement = gateway.sign_agreement(
            agreement_token=request.agreement_token,
            reference=request.contract_id,
            user_id=request.user_id,
            single_charge_cap=cap,
        )
    except AgreementRejected as rejected:
        if claim_id is not None:
            with transaction(sessions) as session:
                release_claim(session, claim_id=claim_id, contract_id=contract_id)
        raise ApplicationError(
            f"the payment agreement was refused: {rejected}",
            {"field": "payment.agreement_token", "code": rejected.code},
            type=AGREEMENT_REJECTED,
            non_retryable=True,
        ) from rejected

    try:
        with transaction(sessions) as session:
            _insert_contract(session, request, product, agreement, claim_id)
    except ApplicationError as error:
        if not error.non_retryable:
            raise  # a holder that ended meanwhile: the retry signs (the same agreement) and writes
        gateway.release_agreement(agreement_id=agreement.agreement_id)
        if claim_id is not None:
            with transaction(sessions) as session:
                release_claim(session, claim_id=claim_id, contract_id=contract_id)
        raise
    written = SignedFields(
        contract_id,
        agreement.agreement_id,
        request.requested_at,
        request.device_ids,
        product.billing_cycle,
        product.resource_type,
    )
    return signed_view(written, product)


def _insert_contract(
    session: Session,
    request: SignContractInput,
    product: ProductTerms,
    agreement: Agreement,
    claim_id: uuid.UUID | None,
) -> None:
    """Write the contract and its `signed` event unless a running subscription holds one of its devices.

    The holder is looked for under the user's lock for the resource, by a statement that starts after the
    lock is taken: two signups racing for one device cannot both win. BEGIN, the lock and the write go in
    one round trip."""
    contract_id = uuid.UUID(request.contract_id)
    db = driver_connection(session)
    with db.pipeline():
        lock_user_resource(session, user_id=request.user_id, resource_type=product.resource_type)
        written = db.execute(
            _SIGNED_CONTRACT,
            {
                "id": contract_id,
                "user_id": request.user_id,
                "product_id": product.id,
                "resource_type": product.resource_type,
                "unit_price_minor": product.unit_price_minor,
                "currency": product.currency,
                "price_version": product.price_version,
                "billing_cycle": product.billing_cycle,
                "timezone": request.timezone,
                "device_ids": list(request.device_ids),
                "agreement_id": agreement.agreement_id,
                "agreement_status": agreement.status.value,
                "agreement_cap_minor": agreement.single_charge_cap.amount_minor,
                "anchor_at": request.requested_at,
                "voucher_claim_id": claim_id,
                "running": NON_FINAL,
                "exclude": contract_id,
                "dedup_key": f"{contract_id}:signed",
                "detail": Jsonb(
                    {"agreement_id": agreement.agreement_id, "devices": list(request.device_ids)}
                ),
            },
        )
    if written.fetchone() is not None:
        return
    holder = device_holder(
        session,
        resource_type=product.resource_type,
        device_ids=request.device_ids,
        exclude_contract=contract_id,
    )
    refuse_if_held(holder, resource_type=product.resource_type)
    raise ApplicationError("a device's holder ended while the contract was written; retrying")


def refuse_if_held(holder: tuple[uuid.UUID, str] | None, *, resource_type: str) -> None:
    if holder is not None:
        raise invalid(
            f"device {holder[1]} already has a running subscription for {resource_type}",
            field="device_ids",
            code="device_already_subscribed",
        )
