"""Claim 1: validate the signup, sign the payment agreement, write the contract. Nothing is written when
the input is bad or the gateway refuses; a retry after a crash finds the agreement and the contract."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, col, select
from temporalio.exceptions import ApplicationError

from activities.device_groups import device_holder, lock_user_resource
from activities.events import append_event
from activities.names import AGREEMENT_REJECTED, INVALID_SUBSCRIPTION
from gateway.protocol import Agreement, AgreementRejected, PaymentGateway
from infra.db import SessionFactory, transaction
from models.catalog import Device, Product
from models.contract import Contract
from models.cycle import BillingCycle
from models.enums import DeviceStatus, ProductStatus, SubscriptionStatus
from models.messages import SignContractInput, SignedContract
from models.money import Money
from vouchers.errors import VoucherNotUsable
from vouchers.redemption import check_claim_usable, release_claim, reserve_claim
from workflows.rules import agreement_cap_minor


def invalid(message: str, *, field: str, code: str) -> ApplicationError:
    return ApplicationError(
        message, {"field": field, "code": code}, type=INVALID_SUBSCRIPTION, non_retryable=True
    )


def validate_signup(session: Session, request: SignContractInput) -> Product:
    """Every reason a signup cannot proceed, as a non-retryable error naming the field."""
    try:
        product_id = uuid.UUID(request.product_id)
    except ValueError:
        raise invalid("product_id is not a UUID", field="product_id", code="invalid_product_id") from None
    product = session.get(Product, product_id)
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
    found = {d.id: d for d in session.exec(select(Device).where(col(Device.id).in_(devices)))}
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


def signed_view(contract: Contract, product: Product) -> SignedContract:
    return SignedContract(
        contract_id=str(contract.id),
        agreement_id=contract.agreement_id,
        anchor_at=contract.anchor_at,
        billing_cycle=contract.billing_cycle,
        resource_type=contract.resource_type,
        device_ids=tuple(contract.device_ids),
        dunning_delays_seconds=tuple(product.dunning_delays_seconds),
        dunning_max_attempts=product.dunning_max_attempts,
        max_devices=product.max_devices,
    )


def sign_contract(
    *, sessions: SessionFactory, gateway: PaymentGateway, request: SignContractInput
) -> SignedContract:
    contract_id = uuid.UUID(request.contract_id)
    with transaction(sessions) as session:
        existing = session.get(Contract, contract_id)
        if existing is not None:
            product = session.get(Product, existing.product_id)
            assert product is not None
            return signed_view(existing, product)
        product = validate_signup(session, request)
        BillingCycle.parse(product.billing_cycle)
        assert_devices_free(session, request=request, resource_type=product.resource_type)
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
            # Re-checked under a lock with the insert: two signups racing for one device cannot both win.
            lock_user_resource(session, user_id=request.user_id, resource_type=product.resource_type)
            assert_devices_free(session, request=request, resource_type=product.resource_type)
            contract = _insert_contract(session, request, product, agreement, claim_id)
    except ApplicationError:
        gateway.release_agreement(agreement_id=agreement.agreement_id)
        if claim_id is not None:
            with transaction(sessions) as session:
                release_claim(session, claim_id=claim_id, contract_id=contract_id)
        raise
    return signed_view(contract, product)


def _insert_contract(
    session: Session,
    request: SignContractInput,
    product: Product,
    agreement: Agreement,
    claim_id: uuid.UUID | None,
) -> Contract:
    contract_id = uuid.UUID(request.contract_id)
    contract = Contract(
        id=contract_id,
        user_id=request.user_id,
        product_id=product.id,
        resource_type=product.resource_type,
        unit_price_minor=product.unit_price_minor,
        currency=product.currency,
        price_version=product.price_version,
        billing_cycle=product.billing_cycle,
        timezone=request.timezone,
        device_ids=list(request.device_ids),
        agreement_id=agreement.agreement_id,
        agreement_status=agreement.status.value,
        agreement_cap_minor=agreement.single_charge_cap.amount_minor,
        status=SubscriptionStatus.SIGNING,
        anchor_at=request.requested_at,
        voucher_claim_id=claim_id,
    )
    session.add(contract)
    append_event(
        session,
        contract_id=contract_id,
        dedup_key=f"{contract_id}:signed",
        kind="signed",
        detail={"agreement_id": agreement.agreement_id, "devices": list(request.device_ids)},
    )
    return contract


def assert_devices_free(session: Session, *, request: SignContractInput, resource_type: str) -> None:
    holder = device_holder(
        session,
        resource_type=resource_type,
        device_ids=request.device_ids,
        exclude_contract=uuid.UUID(request.contract_id),
    )
    if holder is not None:
        raise invalid(
            f"device {holder[1]} already has a running subscription for {resource_type}",
            field="device_ids",
            code="device_already_subscribed",
        )
