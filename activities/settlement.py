"""Settle one attempt at one period (seed claims 1-7 in one round trip): refresh the contract from live
product and device data, verify, write the plan, charge with a business-key idempotency key, then record
the outcome and open entitlements.

Retry safety: the attempt row is written before the gateway call; a retry finds it and charges again with
the same key and amount, and the gateway answers with the charge it already made. Finished attempts and
paid plans are answered from the database without calling the gateway at all.

Plain SQL on the session's connection throughout: this runs for every period of every subscription, where
ORM loads and flushes would cost more than the work itself."""

from __future__ import annotations

import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from sqlmodel import Session
from temporalio.exceptions import ApplicationError

from activities.charge_metrics import count_charge, count_entitlements_opened
from activities.entitlements import end_entitlements
from activities.events import append_event
from events import subscriptions as subscription_events
from events.outbox import (
    NEW_EVENTS,
    SEQUENCE_BUMP,
    NewEvent,
    event_params,
    execute_numbered,
    outbox_insert,
    write_subscription_events,
)
from gateway.protocol import ChargeReference, ChargeResult, ChargeStatus, GatewayUnavailable, PaymentGateway
from infra.db import SessionFactory, alone, driver_connection, transaction
from models.contract import charge_idempotency_key
from models.cycle import BillingCycle
from models.dunning import DunningPolicy
from models.enums import AttemptStatus, DeclineKind, PlanStatus, SettleKind, SubscriptionStatus
from models.events import Period
from models.messages import SettleOutcome, SettlePeriodInput
from models.money import Money
from models.names import CONTRACT_NOT_FOUND
from models.notice import notice_at, parse_notice
from models.renewal import (
    ContractTerms,
    LiveDevice,
    LiveProduct,
    Verification,
    price_first_plan,
    verify_renewal,
)
from models.schedule import Schedule
from vouchers.redemption import discount_for_period, mark_used

_LOAD = """
SELECT c.user_id, c.currency, c.resource_type, c.agreement_status, c.agreement_cap_minor, c.unit_price_minor,
       c.billing_cycle, c.anchor_at, c.timezone, c.billing_day, c.device_ids, c.agreement_id,
       c.voucher_claim_id,
       p.status AS product_status, p.unit_price_minor AS product_price_minor,
       p.currency AS product_currency, p.max_devices, p.price_version,
       p.dunning_delays_seconds, p.dunning_max_attempts, p.renewal_notice,
       pl.status AS plan_status, pl.device_ids AS plan_device_ids,
       pl.amount_minor AS plan_amount_minor, pl.currency AS plan_currency,
       a.id AS attempt_id, a.status AS attempt_status, a.amount_minor AS attempt_amount_minor,
       a.currency AS attempt_currency, a.gateway_charge_id, a.decline_code, a.decline_kind,
       (SELECT coalesce(json_agg(json_build_array(d.id, d.owner_user_id, d.status)), '[]')
        FROM devices d WHERE d.id = ANY(%(live_device_ids)s::varchar[])) AS live_devices
FROM contracts c
JOIN products p ON p.id = c.product_id
LEFT JOIN charge_plans pl ON pl.contract_id = c.id AND pl.period = %(period)s
LEFT JOIN charge_attempts a ON a.contract_id = c.id AND a.period = %(period)s AND a.attempt = %(attempt)s
WHERE c.id = %(contract_id)s
FOR UPDATE OF c
"""

# The plan, the pending attempt and the contract's current terms, in one statement (the contract is locked
# by the load). Seed claim 3: a plan not yet paid is updated to the devices and price that apply now.
_WRITE_PENDING = """
WITH plan AS (
    INSERT INTO charge_plans (id, contract_id, period, period_start, period_end, due_at, device_ids,
                              unit_price_minor, gross_minor, discount_minor, amount_minor, currency, status)
    VALUES (%(plan_id)s, %(contract_id)s, %(period)s, %(period_start)s, %(period_end)s, %(due_at)s,
            %(device_ids)s, %(unit_price_minor)s, %(gross_minor)s, %(discount_minor)s, %(amount_minor)s,
            %(currency)s, 'pending')
    ON CONFLICT ON CONSTRAINT uq_charge_plans_contract_period DO UPDATE SET
        device_ids = excluded.device_ids, unit_price_minor = excluded.unit_price_minor,
        gross_minor = excluded.gross_minor, discount_minor = excluded.discount_minor,
        amount_minor = excluded.amount_minor, due_at = excluded.due_at
    WHERE charge_plans.status = 'pending'
), attempt AS (
    INSERT INTO charge_attempts
        (id, contract_id, period, attempt, idempotency_key, amount_minor, currency, status)
    VALUES (%(attempt_id)s, %(contract_id)s, %(period)s, %(attempt)s, %(key)s, %(amount_minor)s,
            %(currency)s, 'pending')
)
UPDATE contracts SET unit_price_minor = %(unit_price_minor)s, price_version = %(price_version)s,
                     device_ids = %(device_ids)s, updated_at = now()
WHERE id = %(contract_id)s
"""

# Phase 3 as one statement, after the contract's lock (`execute_numbered`, same round trip). Each
# sub-statement reads the contract through `contract`, so the contract row is locked first, as every other
# writer of a contract does, and writers never deadlock. Paid or declined, the
# attempt gets its outcome, the contract's log its entry and the outbox its events (numbered by the contract's
# UPDATE, which adds `SEQUENCE_BUMP`).
_ATTEMPT_DONE_AND_LOGGED = f"""attempt AS (
    UPDATE charge_attempts SET status = %(attempt_status)s, gateway_charge_id = %(charge_id)s,
                               completed_at = %(now)s, decline_code = %(decline_code)s,
                               decline_kind = %(decline_kind)s
    WHERE id = %(attempt_id)s AND contract_id = (SELECT id FROM contract)
), logged AS (
    INSERT INTO contract_events (contract_id, dedup_key, kind, period, detail)
    SELECT id, %(dedup_key)s, %(kind)s, %(period)s, %(detail)s FROM contract
    ON CONFLICT (dedup_key) DO NOTHING
), {outbox_insert("contract")}"""

_RECORD_PAID = f"""
WITH {NEW_EVENTS}, contract AS (
    UPDATE contracts SET status = 'active', current_period = %(period)s, period_start = %(start)s,
                         period_end = %(end)s, paid_through = %(end)s, updated_at = %(now)s, {SEQUENCE_BUMP}
    WHERE id = %(contract_id)s
    RETURNING id, resource_type, user_id, event_sequence
), plan AS (
    UPDATE charge_plans SET status = 'paid', paid_at = %(now)s
    WHERE contract_id = (SELECT id FROM contract) AND period = %(period)s
    RETURNING device_ids, discount_minor
), entitled AS (
    -- Seed claims 1 and 6: every device of the paid plan, until the period end; a retry or a replayed period
    -- never shortens what was already granted.
    INSERT INTO entitlements (id, contract_id, device_id, resource_type, valid_from, valid_until, status)
    SELECT gen_random_uuid(), contract.id, device_id, contract.resource_type, %(start)s, %(end)s, 'active'
    FROM contract, plan, unnest(plan.device_ids) AS device_id
    ON CONFLICT ON CONSTRAINT uq_entitlements_contract_device DO UPDATE SET
        valid_until = greatest(entitlements.valid_until, excluded.valid_until),
        status = 'active', revoke_reason = NULL, updated_at = now()
), {_ATTEMPT_DONE_AND_LOGGED}
SELECT device_ids, discount_minor FROM plan
"""

_RECORD_DECLINED = f"""
WITH {NEW_EVENTS}, contract AS (
    UPDATE contracts SET status = %(status)s, updated_at = %(now)s, {SEQUENCE_BUMP}
    WHERE id = %(contract_id)s
    RETURNING id, user_id, event_sequence
), {_ATTEMPT_DONE_AND_LOGGED}
SELECT device_ids, discount_minor FROM charge_plans
WHERE contract_id = (SELECT id FROM contract) AND period = %(period)s
"""


def _load(db: psycopg.Connection[Any], request: SettlePeriodInput) -> dict[str, Any]:
    params = {
        "contract_id": request.contract_id,
        "period": request.period,
        "attempt": request.attempt,
        # A renewal is verified against its devices as they are now; the first period needs none.
        "live_device_ids": list(request.device_ids) if request.period > 0 else [],
    }
    with db.pipeline():  # BEGIN goes with the load, not in a round trip of its own
        cursor = db.cursor(row_factory=dict_row).execute(_LOAD, params)
    row = cursor.fetchone()
    if row is None:
        raise ApplicationError(
            f"no contract {request.contract_id}", type=CONTRACT_NOT_FOUND, non_retryable=True
        )
    return row


def _verify(row: dict[str, Any], base: _Base) -> Verification:
    request = base.request
    if request.period == 0:
        # Seed claim 2: the first plan is executed directly, from the contract just signed; a first period
        # that leads up to the billing day costs its share of a full one.
        share = base.schedule.first_share()
        return Verification(price_first_plan(request.device_ids, row["unit_price_minor"], share), None)
    return verify_renewal(
        terms=ContractTerms(
            user_id=row["user_id"],
            currency=row["currency"],
            agreement_status=row["agreement_status"],
            agreement_cap_minor=row["agreement_cap_minor"],
        ),
        product=LiveProduct(
            status=row["product_status"],
            unit_price_minor=row["product_price_minor"],
            currency=row["product_currency"],
            max_devices=row["max_devices"],
        ),
        group=request.device_ids,
        devices=[LiveDevice(*device) for device in row["live_devices"]],
    )


def _priced(session: Session, row: dict[str, Any], base: _Base) -> Verification:
    """The period's plan verified, then priced with the contract's voucher, if it has one."""
    verification = _verify(row, base)
    if not verification.ok or row["voucher_claim_id"] is None:
        return verification
    assert verification.plan is not None
    plan = verification.plan
    discount = discount_for_period(
        session,
        claim_id=row["voucher_claim_id"],
        contract_id=base.contract_id,
        period=base.request.period,
        gross_minor=plan.gross_minor,
    )
    return replace(verification, plan=plan.discounted(discount))


@dataclass(frozen=True)
class Quote:
    """What a renewal would be charged if it were made now, and the period it would pay."""

    verification: Verification
    period: Period
    currency: str


def quote_renewal(session: Session, request: SettlePeriodInput) -> Quote:
    """Price a renewal as its charge will (live product and device data, the voucher applied) without
    charging or writing anything. Locks the contract, as a charge does, for the caller's transaction."""
    row = _load(driver_connection(session), request)
    base = _Base(request, row)
    return Quote(
        verification=_priced(session, row, base),
        period=Period(index=request.period, start=base.start, end=base.end),
        currency=row["currency"],
    )


class _Base:
    def __init__(self, request: SettlePeriodInput, row: dict[str, Any]) -> None:
        self.schedule = Schedule(
            cycle=BillingCycle.parse(row["billing_cycle"]),
            signed_at=row["anchor_at"],
            timezone=row["timezone"],
            billing_day=row["billing_day"],
        )
        self.request = request
        self.contract_id = uuid.UUID(request.contract_id)
        self.start, self.end = self.schedule.period(request.period)
        self.delays = tuple(row["dunning_delays_seconds"])
        self.max_attempts: int = row["dunning_max_attempts"]
        notice = row["renewal_notice"]
        # When the next renewal's notice falls, by the product's notice as it is now.
        self.notice_at = notice_at(self.end, parse_notice(notice), row["timezone"]) if notice else None

    def outcome(self, kind: SettleKind, **fields: object) -> SettleOutcome:
        return SettleOutcome.model_validate(
            {
                "kind": kind,
                "period": self.request.period,
                "attempt": self.request.attempt,
                "period_start": self.start,
                "period_end": self.end,
                "dunning_delays_seconds": self.delays,
                "dunning_max_attempts": self.max_attempts,
                "notice_at": self.notice_at,
                "answered_at": datetime.now(UTC),
                **fields,
            }
        )


@dataclass(frozen=True)
class _Pending:
    """An attempt written and not yet answered: what the gateway call needs."""

    base: _Base
    attempt_id: uuid.UUID
    agreement_id: str
    idempotency_key: str
    amount: Money
    voucher_claim_id: uuid.UUID | None  # the contract's voucher claim, redeemed by its first paid charge
    device_ids: tuple[str, ...]  # the plan's, entitled once it is paid
    resource_type: str


def _finished_outcome(base: _Base, row: dict[str, Any]) -> SettleOutcome | None:
    """The answer for work already done (an activity retry, or a replay after continue-as-new)."""
    if row["plan_status"] == PlanStatus.PAID:
        succeeded = row["attempt_status"] == AttemptStatus.SUCCEEDED
        return base.outcome(
            SettleKind.PAID,
            device_ids=tuple(row["plan_device_ids"]),
            amount=Money(amount_minor=row["plan_amount_minor"], currency=row["plan_currency"]),
            charge_id=row["gateway_charge_id"] if succeeded else None,
        )
    if row["attempt_status"] == AttemptStatus.DECLINED:
        return base.outcome(
            SettleKind.DECLINED,
            device_ids=tuple(row["plan_device_ids"] or ()),
            amount=Money(amount_minor=row["attempt_amount_minor"], currency=row["attempt_currency"]),
            decline_code=row["decline_code"],
            decline_kind=row["decline_kind"],
        )
    return None


def _prepare(sessions: SessionFactory, request: SettlePeriodInput) -> _Pending | SettleOutcome:
    """Phase 1 (one transaction): verify, write or refresh the plan, write the pending attempt."""
    with transaction(sessions) as session:
        db = driver_connection(session)
        row = _load(db, request)
        base = _Base(request, row)
        done = _finished_outcome(base, row)
        if done is not None:
            return done
        if row["attempt_id"] is not None:
            # Pending: the gateway may have committed; charge again with the same key and amount.
            return _Pending(
                base,
                row["attempt_id"],
                row["agreement_id"],
                charge_idempotency_key(base.contract_id, request.period, request.attempt),
                Money(amount_minor=row["attempt_amount_minor"], currency=row["attempt_currency"]),
                row["voucher_claim_id"],
                tuple(row["plan_device_ids"]),
                row["resource_type"],
            )

        verification = _priced(session, row, base)
        if not verification.ok:
            assert verification.failure is not None
            append_event(
                session,
                contract_id=base.contract_id,
                dedup_key=f"{base.contract_id}:not_verified:p{request.period}",
                kind="renewal_not_verified",
                period=request.period,
                detail={
                    "reason": verification.failure.value,
                    "dropped": list(verification.dropped_device_ids),
                },
            )
            return base.outcome(SettleKind.NOT_VERIFIED, reason=verification.failure.value)
        priced = verification.plan
        assert priced is not None
        devices = list(priced.device_ids)
        attempt_id = uuid.uuid4()
        key = charge_idempotency_key(base.contract_id, request.period, request.attempt)
        db.execute(
            _WRITE_PENDING,
            {
                "plan_id": uuid.uuid4(),
                "attempt_id": attempt_id,
                "contract_id": base.contract_id,
                "period": request.period,
                "attempt": request.attempt,
                "key": key,
                "period_start": base.start,
                "period_end": base.end,
                "due_at": request.due_at,
                "device_ids": devices,
                "unit_price_minor": priced.unit_price_minor,
                "price_version": row["price_version"],
                "gross_minor": priced.gross_minor,
                "discount_minor": priced.discount_minor,
                "amount_minor": priced.amount_minor,
                "currency": row["currency"],
            },
        )
        # Seed claim 7: a device that left the group (signal, unbind, transfer) keeps its entitlement only to
        # the paid-through time, which is this period's start.
        _record_device_changes(db, session, base, row, devices)
        return _Pending(
            base,
            attempt_id,
            row["agreement_id"],
            key,
            Money(amount_minor=priced.amount_minor, currency=row["currency"]),
            row["voucher_claim_id"],
            tuple(devices),
            row["resource_type"],
        )


def _record_device_changes(
    db: psycopg.Connection[Any], session: Session, base: _Base, row: dict[str, Any], devices: list[str]
) -> None:
    """The group charged differs from the contract's (seed claim 7): a device that left (signal, unbind,
    transfer) keeps its entitlement only to the paid-through time, which is this period's start. Written
    with the contract's new devices, in the same transaction; nothing at all in the usual case."""
    request = base.request
    changed = subscription_events.devices_changed(
        contract_id=base.contract_id,
        period=request.period,
        attempt=request.attempt,
        before=row["device_ids"],
        after=devices,
    )
    if changed is None:
        return
    left = [d for d in row["device_ids"] if d not in devices]
    ended = (
        end_entitlements(
            session,
            contract_id=base.contract_id,
            until=base.start,
            reason="device_left_group",
            device_ids=left,
        )
        if left
        else []
    )
    revocations = subscription_events.revoked(
        contract_id=base.contract_id,
        cause=f"p{request.period}",
        reason="device_left_group",
        entitlements=ended,
    )
    events = [changed, *revocations]
    write_subscription_events(db, contract_id=base.contract_id, events=events)


def _record(sessions: SessionFactory, pending: _Pending, result: ChargeResult | None) -> SettleOutcome:
    """Phase 3 (one round trip, one transaction): the attempt's outcome, the plan, the contract,
    entitlements, events. `result` is None for a plan discounted to nothing: paid without a gateway charge."""
    base, request = pending.base, pending.base.request
    paid = result is None or result.status == ChargeStatus.SUCCEEDED
    charge_id = result.charge_id if result else None
    decline_code = None if paid or result is None else result.decline_code
    decline_kind = (
        None if paid or result is None or result.decline_kind is None else result.decline_kind.value
    )
    kind = "period_paid" if paid else "charge_declined"
    detail: dict[str, Any] = (
        {"charge_id": charge_id or "", "amount_minor": pending.amount.amount_minor}
        if paid
        else {"code": decline_code or "", "kind": decline_kind or ""}
    )
    now = datetime.now(UTC)
    events = _outcome_events(pending, result, now)
    params = {
        "contract_id": base.contract_id,
        "period": request.period,
        "now": now,
        "start": base.start,
        "end": base.end,
        "status": (SubscriptionStatus.PAST_DUE if request.period > 0 else SubscriptionStatus.SIGNING).value,
        "attempt_id": pending.attempt_id,
        "attempt_status": (AttemptStatus.SUCCEEDED if paid else AttemptStatus.DECLINED).value,
        "charge_id": charge_id,
        "decline_code": decline_code,
        "decline_kind": decline_kind,
        "dedup_key": f"{base.contract_id}:{kind}:p{request.period}:a{request.attempt}",
        "kind": kind,
        "detail": Jsonb(detail),
        **event_params(events),
    }
    # A voucher is redeemed in the same transaction; without one, the statement commits on its own.
    redeems = paid and pending.voucher_claim_id is not None
    with transaction(sessions) as session:
        db = driver_connection(session)
        statement = _RECORD_PAID if paid else _RECORD_DECLINED
        with nullcontext() if redeems else alone(db):
            plan = execute_numbered(db, statement, params).fetchone()
        assert plan is not None, "_prepare wrote the contract's plan moments ago"
        device_ids: list[str] = plan[0]
        if redeems and plan[1] > 0:
            # The voucher is redeemed by the first charge it paid towards, and only then.
            assert pending.voucher_claim_id is not None
            mark_used(session, claim_id=pending.voucher_claim_id, contract_id=base.contract_id, now=now)
    if paid:
        return base.outcome(
            SettleKind.PAID,
            device_ids=tuple(device_ids),
            amount=pending.amount,
            charge_id=charge_id,
            answered_at=now,
        )
    return base.outcome(
        SettleKind.DECLINED,
        device_ids=tuple(device_ids),
        amount=pending.amount,
        decline_code=decline_code,
        decline_kind=decline_kind,
        answered_at=now,
    )


def _outcome_events(pending: _Pending, result: ChargeResult | None, now: datetime) -> list[NewEvent]:
    """What `_record` reports. A decline says when the workflow will try again: the same delay after the
    same answer time that the workflow reads from the outcome; none after a hard decline or the last try."""
    base, request = pending.base, pending.base.request
    if result is None or result.status == ChargeStatus.SUCCEEDED:
        return subscription_events.paid(
            contract_id=base.contract_id,
            period=Period(index=request.period, start=base.start, end=base.end),
            amount=pending.amount,
            charge_id=result.charge_id if result else None,
            device_ids=pending.device_ids,
            resource_type=pending.resource_type,
        )
    policy = DunningPolicy(delays_seconds=base.delays, max_attempts=base.max_attempts)
    delay = None if result.decline_kind is DeclineKind.HARD else policy.delay_after(request.attempt)
    return [
        subscription_events.payment_failed(
            contract_id=base.contract_id,
            period=request.period,
            attempt=request.attempt,
            amount=pending.amount,
            decline_code=result.decline_code or "declined",
            next_retry_at=now + delay if delay is not None else None,
        )
    ]


def settle_period(
    *, sessions: SessionFactory, gateway: PaymentGateway, request: SettlePeriodInput
) -> SettleOutcome:
    prepared = _prepare(sessions, request)
    if isinstance(prepared, SettleOutcome):
        return prepared
    if prepared.amount.amount_minor == 0:
        return _opened(_record(sessions, prepared, None), prepared)
    started = time.perf_counter()
    try:
        result = gateway.charge(
            agreement_id=prepared.agreement_id,
            amount=prepared.amount,
            idempotency_key=prepared.idempotency_key,
            reference=ChargeReference(
                contract_id=request.contract_id, period=request.period, attempt=request.attempt
            ),
        )
    except GatewayUnavailable:
        # Propagates: Temporal retries the activity, which resumes at the pending attempt.
        count_charge(
            resource_type=prepared.resource_type,
            attempt=request.attempt,
            result=None,
            seconds=time.perf_counter() - started,
        )
        raise
    seconds = time.perf_counter() - started
    outcome = _record(sessions, prepared, result)
    count_charge(
        resource_type=prepared.resource_type, attempt=request.attempt, result=result, seconds=seconds
    )
    return _opened(outcome, prepared)


def _opened(outcome: SettleOutcome, pending: _Pending) -> SettleOutcome:
    if outcome.kind is SettleKind.PAID:
        count_entitlements_opened(resource_type=pending.resource_type, devices=len(outcome.device_ids))
    return outcome
