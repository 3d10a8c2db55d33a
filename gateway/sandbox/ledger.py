"""The sandbox's bookkeeping: sign, charge and release against its own tables, each in one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, Row, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from gateway.protocol import (
    Agreement,
    AgreementStatus,
    ChargeReference,
    ChargeResult,
    ChargeStatus,
    DeclineKind,
)
from gateway.sandbox.problems import Problem, unknown_agreement
from gateway.sandbox.schemas import ChargeRequest, LedgerCharge, SignRequest
from gateway.sandbox.scripts import decide_charge, signing_refusal
from gateway.sandbox.tables import agreements, charges
from models.money import Money


@dataclass(frozen=True)
class SignedAgreement:
    agreement: Agreement
    created: bool


@dataclass(frozen=True)
class RecordedCharge:
    result: ChargeResult
    delay_response: bool  # set only on the request that first recorded a lost-response charge


class SandboxLedger:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def ping(self) -> None:
        with self._engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def sign(self, request: SignRequest) -> SignedAgreement:
        refusal = signing_refusal(request.agreement_token)
        if refusal is not None:
            raise Problem(status=402, code=refusal.code, title="Agreement not signed", detail=refusal.detail)
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            inserted = conn.execute(
                insert(agreements)
                .values(
                    agreement_id=f"agr_{uuid.uuid4().hex}",
                    reference=request.reference,
                    user_id=request.user_id,
                    token=request.agreement_token,
                    status=AgreementStatus.ACTIVE.value,
                    cap_amount_minor=request.single_charge_cap.amount_minor,
                    cap_currency=request.single_charge_cap.currency,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=[agreements.c.reference])
                .returning(agreements)
            ).one_or_none()
            if inserted is not None:
                return SignedAgreement(_agreement(inserted), created=True)
            existing = conn.execute(
                select(agreements).where(agreements.c.reference == request.reference)
            ).one()
            return SignedAgreement(_agreement(existing), created=False)

    def get_agreement(self, agreement_id: str) -> Agreement:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(agreements).where(agreements.c.agreement_id == agreement_id)
            ).one_or_none()
        if row is None:
            raise unknown_agreement(agreement_id)
        return _agreement(row)

    def release(self, agreement_id: str) -> Agreement:
        with self._engine.begin() as conn:
            # Only an active agreement moves: a released one stays released, a revoked one stays revoked.
            conn.execute(
                update(agreements)
                .where(agreements.c.agreement_id == agreement_id)
                .where(agreements.c.status == AgreementStatus.ACTIVE.value)
                .values(status=AgreementStatus.RELEASED.value, updated_at=datetime.now(UTC))
            )
            row = conn.execute(
                select(agreements).where(agreements.c.agreement_id == agreement_id)
            ).one_or_none()
        if row is None:
            raise unknown_agreement(agreement_id)
        return _agreement(row)

    def charge(self, request: ChargeRequest) -> RecordedCharge:
        with self._engine.begin() as conn:
            replay = self._replay(conn, request)
            if replay is not None:
                return RecordedCharge(replay, delay_response=False)
            # The row lock serialises charges per agreement, so counting the period's charges is race-free.
            agreement = conn.execute(
                select(agreements).where(agreements.c.agreement_id == request.agreement_id).with_for_update()
            ).one_or_none()
            if agreement is None:
                raise unknown_agreement(request.agreement_id)
            earlier = conn.execute(
                select(func.count())
                .select_from(charges)
                .where(charges.c.agreement_id == request.agreement_id)
                .where(charges.c.period == request.reference.period)
            ).scalar_one()
            outcome = decide_charge(
                token=agreement.token,
                agreement_status=AgreementStatus(agreement.status),
                cap=Money(amount_minor=agreement.cap_amount_minor, currency=agreement.cap_currency),
                amount=request.amount,
                earlier_charges_in_period=earlier,
            )
            inserted = conn.execute(
                insert(charges)
                .values(
                    charge_id=f"ch_{uuid.uuid4().hex}",
                    idempotency_key=request.idempotency_key,
                    agreement_id=request.agreement_id,
                    amount_minor=request.amount.amount_minor,
                    currency=request.amount.currency,
                    status=outcome.status.value,
                    decline_code=outcome.decline_code,
                    decline_kind=outcome.decline_kind.value if outcome.decline_kind else None,
                    contract_id=request.reference.contract_id,
                    period=request.reference.period,
                    attempt=request.reference.attempt,
                    created_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing(index_elements=[charges.c.idempotency_key])
                .returning(charges)
            ).one_or_none()
            if inserted is None:
                # Another request with this key committed after our first look: answer with its result.
                replay = self._replay(conn, request)
                assert replay is not None, "a conflicting idempotency key must be readable after the conflict"
                return RecordedCharge(replay, delay_response=False)
            if outcome.revokes_agreement:
                conn.execute(
                    update(agreements)
                    .where(agreements.c.agreement_id == request.agreement_id)
                    .values(status=AgreementStatus.REVOKED.value, updated_at=datetime.now(UTC))
                )
            return RecordedCharge(_ledger_charge(inserted).result(), delay_response=outcome.delays_response)

    def list_charges(
        self,
        *,
        contract_id: str | None = None,
        period: int | None = None,
        status: ChargeStatus | None = None,
    ) -> list[LedgerCharge]:
        query = select(charges).order_by(charges.c.seq)
        if contract_id is not None:
            query = query.where(charges.c.contract_id == contract_id)
        if period is not None:
            query = query.where(charges.c.period == period)
        if status is not None:
            query = query.where(charges.c.status == status.value)
        with self._engine.connect() as conn:
            return [_ledger_charge(row) for row in conn.execute(query)]

    def _replay(self, conn: Connection, request: ChargeRequest) -> ChargeResult | None:
        row = conn.execute(
            select(charges).where(charges.c.idempotency_key == request.idempotency_key)
        ).one_or_none()
        if row is None:
            return None
        stored = _ledger_charge(row)
        if not request.same_charge_as(stored):
            raise Problem(
                status=409,
                code="idempotency_key_reused",
                title="Idempotency key reused",
                detail=f"key {request.idempotency_key!r} was used for a different charge",
            )
        return stored.result()


def _agreement(row: Row[tuple[object, ...]]) -> Agreement:
    return Agreement(
        agreement_id=row.agreement_id,
        status=AgreementStatus(row.status),
        single_charge_cap=Money(amount_minor=row.cap_amount_minor, currency=row.cap_currency),
    )


def _ledger_charge(row: Row[tuple[object, ...]]) -> LedgerCharge:
    return LedgerCharge(
        charge_id=row.charge_id,
        status=ChargeStatus(row.status),
        amount=Money(amount_minor=row.amount_minor, currency=row.currency),
        idempotency_key=row.idempotency_key,
        decline_code=row.decline_code,
        decline_kind=DeclineKind(row.decline_kind) if row.decline_kind else None,
        agreement_id=row.agreement_id,
        reference=ChargeReference(contract_id=row.contract_id, period=row.period, attempt=row.attempt),
        created_at=row.created_at,
    )
