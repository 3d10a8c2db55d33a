"""Claim 1: validate the signup, sign the payment agreement, write the contract. Nothing is written when
the input is bad or the gateway refuses; a retry after a crash finds the agreement and the contract."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from sqlmodel import Session
from temporalio.exceptions import ApplicationError

from contracts.devices import HOLDER_OF_RESOURCE, NON_FINAL, device_holder, lock_user_resource
from contracts.signup import claim_refused, product_terms, send_signup_reads, validate_signup
from gateway.protocol import Agreement, AgreementRejected, PaymentGateway
from infra.db import SessionFactory, driver_connection, reads_alone, transaction
from models.cycle import BillingCycle
from models.messages import SignContractInput, SignedContract
from models.money import Money
from models.names import AGREEMENT_REJECTED, INVALID_SUBSCRIPTION
from models.renewal import agreement_cap_minor
from models.signup import (
    ProductTerms,
    SignupRefused,
    parse_voucher_claim_id,
    refuse_if_held,
    signed_billing_day,
)
from vouchers.errors import VoucherNotUsable
from vouchers.redemption import release_claim, reserve_claim


def invalid(refused: SignupRefused) -> ApplicationError:
    return ApplicationError(
        refused.message,
        {"field": refused.field, "code": refused.code},
        type=INVALID_SUBSCRIPTION,
        non_retryable=True,
    )


_SIGNED_CONTRACT = f"""
WITH contract AS (
    INSERT INTO contracts (id, user_id, product_id, resource_type, unit_price_minor, currency, price_version,
                           billing_cycle, timezone, device_ids, agreement_id, agreement_status,
                           agreement_cap_minor, status, anchor_at, current_period, voucher_claim_id,
                           billing_day)
    -- Typed where the holder's look-up uses the same parameter.
    SELECT %(id)s, %(user_id)s, %(product_id)s, %(resource_type)s::varchar, %(unit_price_minor)s,
           %(currency)s, %(price_version)s, %(billing_cycle)s, %(timezone)s, %(device_ids)s::varchar[],
           %(agreement_id)s, %(agreement_status)s, %(agreement_cap_minor)s, 'signing', %(anchor_at)s, 0,
           %(voucher_claim_id)s, %(billing_day)s
    WHERE NOT EXISTS ({HOLDER_OF_RESOURCE})
    RETURNING id
), signed AS (
    INSERT INTO contract_events (contract_id, dedup_key, kind, detail)
    SELECT id, %(dedup_key)s, 'signed', %(detail)s FROM contract
    ON CONFLICT (dedup_key) DO NOTHING
)
SELECT id FROM contract
"""


class SignedFields(NamedTuple):
    """The contract's side of the signing answer: as written now, or as found by a retry."""

    contract_id: uuid.UUID
    agreement_id: str
    anchor_at: datetime
    device_ids: Sequence[str]
    billing_cycle: str
    resource_type: str
    product_id: uuid.UUID


_SIGNED = """
SELECT id AS contract_id, agreement_id, anchor_at, device_ids, billing_cycle, resource_type, product_id
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
    try:
        return _sign(sessions=sessions, gateway=gateway, request=request)
    except SignupRefused as refused:
        raise invalid(refused) from None


def _sign(*, sessions: SessionFactory, gateway: PaymentGateway, request: SignContractInput) -> SignedContract:
    contract_id = uuid.UUID(request.contract_id)
    with transaction(sessions) as session:
        db = driver_connection(session)
        with reads_alone(db):
            collect = send_signup_reads(db, request)
            signed = db.cursor(row_factory=class_row(SignedFields)).execute(_SIGNED, (contract_id,))
        existing = signed.fetchone()
        facts = collect()
        if existing is not None:  # a retry after the contract was written
            terms = facts.product
            if terms is None or terms.id != existing.product_id:
                terms = product_terms(session, existing.product_id)
            assert terms is not None  # foreign key
            return signed_view(existing, terms)
        product = validate_signup(session, request, facts)
        BillingCycle.parse(product.billing_cycle)
        refuse_if_held(facts.holder, resource_type=product.resource_type)
        claim_id = parse_voucher_claim_id(request.voucher_claim_id)
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
                raise claim_refused(unusable) from None

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
    except SignupRefused:
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
        product.id,
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
                "billing_day": signed_billing_day(request, product),
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
    # A holder that ended meanwhile: the retry signs (the same agreement) and writes.
    raise ApplicationError("a device's holder ended while the contract was written; retrying")
