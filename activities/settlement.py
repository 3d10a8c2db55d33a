"""Settle one attempt at one period (claims 1-7 in one round trip): refresh the contract from live product
and device data, verify, write the plan, charge with a business-key idempotency key, then record the
outcome and open entitlements.

Retry safety: the attempt row is written before the gateway call; a retry finds it and charges again with
the same key and amount, and the gateway answers with the charge it already made. Finished attempts and
paid plans are answered from the database without calling the gateway at all."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select
from temporalio.exceptions import ApplicationError

from activities.entitlements import end_entitlements, open_entitlements
from activities.events import append_event
from activities.names import CONTRACT_NOT_FOUND
from gateway.protocol import ChargeReference, ChargeResult, ChargeStatus, PaymentGateway
from infra.db import SessionFactory, transaction
from models.catalog import Device, Product
from models.contract import ChargeAttempt, ChargePlan, Contract, charge_idempotency_key
from models.cycle import BillingCycle
from models.enums import AttemptStatus, PlanStatus, SubscriptionStatus
from models.messages import SettleOutcome, SettlePeriodInput
from models.money import Money
from vouchers.redemption import discount_for_period, mark_used
from workflows.rules import (
    ContractTerms,
    LiveDevice,
    LiveProduct,
    Verification,
    price_plan,
    verify_renewal,
)


def _load(session: Session, contract_id: uuid.UUID) -> tuple[Contract, Product]:
    contract = session.get(Contract, contract_id, with_for_update=True)
    if contract is None:
        raise ApplicationError(f"no contract {contract_id}", type=CONTRACT_NOT_FOUND, non_retryable=True)
    product = session.get(Product, contract.product_id)
    assert product is not None  # foreign key
    return contract, product


def _verify(
    session: Session, contract: Contract, product: Product, request: SettlePeriodInput
) -> Verification:
    if request.period == 0:
        # Claim 2: the first plan is executed directly, from the contract just signed.
        return Verification(price_plan(request.device_ids, contract.unit_price_minor), None)
    live = session.exec(select(Device).where(col(Device.id).in_(request.device_ids))).all()
    return verify_renewal(
        terms=ContractTerms(
            user_id=contract.user_id,
            currency=contract.currency,
            agreement_status=contract.agreement_status,
            agreement_cap_minor=contract.agreement_cap_minor,
        ),
        product=LiveProduct(
            status=product.status.value,
            unit_price_minor=product.unit_price_minor,
            currency=product.currency,
            max_devices=product.max_devices,
        ),
        group=request.device_ids,
        devices=[LiveDevice(d.id, d.owner_user_id, d.status.value) for d in live],
    )


class _Base:
    def __init__(self, request: SettlePeriodInput, contract: Contract, product: Product) -> None:
        cycle = BillingCycle.parse(contract.billing_cycle)
        self.request = request
        self.start, self.end = cycle.period(contract.anchor_at, request.period, contract.timezone)
        self.delays = tuple(product.dunning_delays_seconds)
        self.max_attempts = product.dunning_max_attempts

    def outcome(self, kind: str, **fields: object) -> SettleOutcome:
        return SettleOutcome.model_validate(
            {
                "kind": kind,
                "period": self.request.period,
                "attempt": self.request.attempt,
                "period_start": self.start,
                "period_end": self.end,
                "dunning_delays_seconds": self.delays,
                "dunning_max_attempts": self.max_attempts,
                **fields,
            }
        )


def _finished_outcome(
    base: _Base, plan: ChargePlan | None, attempt: ChargeAttempt | None
) -> SettleOutcome | None:
    """The answer for work already done (an activity retry, or a replay after continue-as-new)."""
    if plan is not None and plan.status == PlanStatus.PAID:
        paid = attempt if attempt is not None and attempt.status == AttemptStatus.SUCCEEDED else None
        return base.outcome(
            "paid",
            device_ids=tuple(plan.device_ids),
            amount=Money(amount_minor=plan.amount_minor, currency=plan.currency),
            charge_id=paid.gateway_charge_id if paid else None,
        )
    if attempt is not None and attempt.status == AttemptStatus.DECLINED:
        return base.outcome(
            "declined",
            device_ids=tuple(plan.device_ids) if plan else (),
            amount=Money(amount_minor=attempt.amount_minor, currency=attempt.currency),
            decline_code=attempt.decline_code,
            decline_kind=attempt.decline_kind,
        )
    return None


def _prepare(
    sessions: SessionFactory, request: SettlePeriodInput
) -> tuple[_Base, Contract, ChargeAttempt] | SettleOutcome:
    """Phase 1 (one transaction): verify, write or refresh the plan, write the pending attempt."""
    contract_id = uuid.UUID(request.contract_id)
    with transaction(sessions) as session:
        contract, product = _load(session, contract_id)
        base = _Base(request, contract, product)
        plan = session.exec(
            select(ChargePlan).where(
                ChargePlan.contract_id == contract_id, ChargePlan.period == request.period
            )
        ).first()
        attempt = session.exec(
            select(ChargeAttempt).where(
                ChargeAttempt.contract_id == contract_id,
                ChargeAttempt.period == request.period,
                ChargeAttempt.attempt == request.attempt,
            )
        ).first()
        done = _finished_outcome(base, plan, attempt)
        if done is not None:
            return done
        if attempt is not None:  # pending: the gateway may have committed; charge again with the same key
            return base, contract, attempt

        verification = _verify(session, contract, product, request)
        if not verification.ok:
            assert verification.failure is not None
            append_event(
                session,
                contract_id=contract_id,
                dedup_key=f"{contract_id}:not_verified:p{request.period}",
                kind="renewal_not_verified",
                period=request.period,
                detail={
                    "reason": verification.failure.value,
                    "dropped": list(verification.dropped_device_ids),
                },
            )
            return base.outcome("not_verified", reason=verification.failure.value)
        priced = verification.plan
        assert priced is not None
        if contract.voucher_claim_id is not None:
            discount = discount_for_period(
                session,
                claim_id=contract.voucher_claim_id,
                contract_id=contract_id,
                period=request.period,
                gross_minor=priced.gross_minor,
            )
            priced = price_plan(priced.device_ids, priced.unit_price_minor, discount)

        values = {
            "id": uuid.uuid4(),
            "contract_id": contract_id,
            "period": request.period,
            "period_start": base.start,
            "period_end": base.end,
            "due_at": request.due_at,
            "device_ids": list(priced.device_ids),
            "unit_price_minor": priced.unit_price_minor,
            "gross_minor": priced.gross_minor,
            "discount_minor": priced.discount_minor,
            "amount_minor": priced.amount_minor,
            "currency": contract.currency,
            "status": PlanStatus.PENDING.value,
        }
        upsert = insert(ChargePlan).values(values)
        # Claim 3: a plan not yet paid is updated to the devices and price that apply now.
        session.connection().execute(
            upsert.on_conflict_do_update(
                constraint="uq_charge_plans_contract_period",
                set_={
                    k: upsert.excluded[k]
                    for k in (
                        "device_ids",
                        "unit_price_minor",
                        "gross_minor",
                        "discount_minor",
                        "amount_minor",
                        "due_at",
                    )
                },
                where=col(ChargePlan.status) == PlanStatus.PENDING,
            )
        )
        attempt = ChargeAttempt(
            contract_id=contract_id,
            period=request.period,
            attempt=request.attempt,
            idempotency_key=charge_idempotency_key(contract_id, request.period, request.attempt),
            amount_minor=priced.amount_minor,
            currency=contract.currency,
        )
        session.add(attempt)
        # Claim 7: a device that left the group (signal, unbind, transfer) keeps its entitlement only to
        # the paid-through time, which is this period's start.
        left = [d for d in contract.device_ids if d not in priced.device_ids]
        if left:
            end_entitlements(
                session,
                contract_id=contract_id,
                until=base.start,
                reason="device_left_group",
                device_ids=left,
            )
        contract.unit_price_minor = priced.unit_price_minor
        contract.price_version = product.price_version
        contract.device_ids = list(priced.device_ids)
        contract.updated_at = datetime.now(UTC)
        session.add(contract)
        return base, contract, attempt


def _record(
    sessions: SessionFactory, base: _Base, attempt_id: uuid.UUID, result: ChargeResult | None
) -> SettleOutcome:
    """`result` is None for a plan discounted to nothing: paid without a gateway charge."""
    """Phase 3 (one transaction): the attempt's outcome, the plan, the contract, entitlements, events."""
    request = base.request
    contract_id = uuid.UUID(request.contract_id)
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        contract = session.get(Contract, contract_id, with_for_update=True)
        assert contract is not None  # _prepare found it moments ago
        attempt = session.get(ChargeAttempt, attempt_id)
        plan = session.exec(
            select(ChargePlan).where(
                ChargePlan.contract_id == contract_id, ChargePlan.period == request.period
            )
        ).one()
        assert attempt is not None
        attempt.gateway_charge_id = result.charge_id if result else None
        attempt.completed_at = now
        amount = Money(amount_minor=attempt.amount_minor, currency=attempt.currency)
        if result is None or result.status == ChargeStatus.SUCCEEDED:
            attempt.status = AttemptStatus.SUCCEEDED
            plan.status = PlanStatus.PAID
            plan.paid_at = now
            contract.status = SubscriptionStatus.ACTIVE
            contract.current_period = request.period
            contract.period_start, contract.period_end = base.start, base.end
            contract.paid_through = base.end
            contract.updated_at = now
            # Claims 1 and 6: entitle every device of the paid plan until the period end.
            open_entitlements(
                session,
                contract_id=contract_id,
                resource_type=contract.resource_type,
                device_ids=plan.device_ids,
                valid_from=base.start,
                valid_until=base.end,
            )
            if contract.voucher_claim_id is not None and plan.discount_minor > 0:
                # The voucher is redeemed by the first charge it paid towards, and only then.
                mark_used(session, claim_id=contract.voucher_claim_id, contract_id=contract_id, now=now)
            kind, detail = (
                "period_paid",
                {"charge_id": attempt.gateway_charge_id or "", "amount_minor": attempt.amount_minor},
            )
        else:
            assert result is not None
            attempt.status = AttemptStatus.DECLINED
            attempt.decline_code = result.decline_code
            attempt.decline_kind = result.decline_kind.value if result.decline_kind else None
            contract.status = (
                SubscriptionStatus.PAST_DUE if request.period > 0 else SubscriptionStatus.SIGNING
            )
            contract.updated_at = now
            kind, detail = (
                "charge_declined",
                {"code": result.decline_code or "", "kind": attempt.decline_kind or ""},
            )
        session.add_all([attempt, plan, contract])
        append_event(
            session,
            contract_id=contract_id,
            dedup_key=f"{contract_id}:{kind}:p{request.period}:a{request.attempt}",
            kind=kind,
            period=request.period,
            detail=detail,
        )
        if attempt.status == AttemptStatus.SUCCEEDED:
            return base.outcome(
                "paid", device_ids=tuple(plan.device_ids), amount=amount, charge_id=attempt.gateway_charge_id
            )
        return base.outcome(
            "declined",
            device_ids=tuple(plan.device_ids),
            amount=amount,
            decline_code=attempt.decline_code,
            decline_kind=attempt.decline_kind,
        )


def settle_period(
    *, sessions: SessionFactory, gateway: PaymentGateway, request: SettlePeriodInput
) -> SettleOutcome:
    prepared = _prepare(sessions, request)
    if isinstance(prepared, SettleOutcome):
        return prepared
    base, contract, attempt = prepared
    if attempt.amount_minor == 0:
        return _record(sessions, base, attempt.id, None)
    # GatewayUnavailable propagates: Temporal retries the activity, which resumes at the pending attempt.
    result = gateway.charge(
        agreement_id=contract.agreement_id,
        amount=Money(amount_minor=attempt.amount_minor, currency=attempt.currency),
        idempotency_key=attempt.idempotency_key,
        reference=ChargeReference(
            contract_id=request.contract_id, period=request.period, attempt=request.attempt
        ),
    )
    return _record(sessions, base, attempt.id, result)
