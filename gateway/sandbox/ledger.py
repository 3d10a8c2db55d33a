"""The sandbox's bookkeeping: sign, charge and release against its own tables, each in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import psycopg
from psycopg.rows import dict_row
from sqlalchemy import Engine, select, text, update

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
from gateway.sandbox.scripts import Outcome, decide_charge, signing_refusal
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
        keys = {"reference": request.reference}
        with self._engine.begin() as sa_conn:
            cursor = cast("psycopg.Connection[Any]", sa_conn.connection.driver_connection).cursor(
                row_factory=dict_row
            )
            inserted = cursor.execute(
                _SIGN,
                {
                    **keys,
                    "agreement_id": f"agr_{uuid.uuid4().hex}",
                    "user_id": request.user_id,
                    "token": request.agreement_token,
                    "status": AgreementStatus.ACTIVE.value,
                    "cap_amount_minor": request.single_charge_cap.amount_minor,
                    "cap_currency": request.single_charge_cap.currency,
                    "now": datetime.now(UTC),
                },
            ).fetchone()
            if inserted is not None:
                return SignedAgreement(_agreement(inserted), created=True)
            # Signed before, perhaps by a twin that committed while the insert waited: a statement of its
            # own, whose snapshot sees that commit.
            existing = cursor.execute(_SIGNED_BEFORE, keys).fetchone()
        assert existing is not None, "an insert that conflicted on the reference has a row to find"
        return SignedAgreement(_agreement(existing), created=False)

    def get_agreement(self, agreement_id: str) -> Agreement:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(agreements).where(agreements.c.agreement_id == agreement_id)
            ).one_or_none()
        if row is None:
            raise unknown_agreement(agreement_id)
        return _agreement(row._mapping)

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
        return _agreement(row._mapping)

    def charge(self, request: ChargeRequest) -> RecordedCharge:
        """Record one charge per idempotency key, in plain SQL: every renewal comes through here."""
        with self._engine.begin() as sa_conn:
            conn = cast("psycopg.Connection[Any]", sa_conn.connection.driver_connection)
            # The row lock serialises charges per agreement, so the count read after it (its own statement,
            # its own snapshot) is race-free. One round trip for BEGIN, the lock and the look.
            with conn.pipeline():
                locking = conn.execute(_LOCK_AGREEMENT, {"agreement_id": request.agreement_id})
                looking = conn.execute(_EARLIER_AND_REPLAY, _keys(request))
            agreement, looked = locking.fetchone(), looking.fetchone()
            assert looked is not None, "an aggregate query returns one row"
            earlier, replayed = looked
            if replayed is not None:
                return RecordedCharge(self._replayed(request, replayed), delay_response=False)
            if agreement is None:
                raise unknown_agreement(request.agreement_id)
            token, status, cap_amount_minor, cap_currency = agreement
            outcome = decide_charge(
                token=token,
                agreement_status=AgreementStatus(status),
                cap=Money(amount_minor=cap_amount_minor, currency=cap_currency),
                amount=request.amount,
                earlier_charges_in_period=earlier,
            )
            inserted = conn.execute(_INSERT_CHARGE, _charge_row(request, outcome)).fetchone()
            if inserted is None:
                # Another request with this key committed after our first look: answer with its result.
                again = conn.execute(_EARLIER_AND_REPLAY, _keys(request)).fetchone()
                assert again is not None and again[1] is not None, "a conflicting key is readable after it"
                return RecordedCharge(self._replayed(request, again[1]), delay_response=False)
            if outcome.revokes_agreement:
                conn.execute(_REVOKE_AGREEMENT, {"agreement_id": request.agreement_id})
            return RecordedCharge(
                _ledger_charge(inserted[0]).result(), delay_response=outcome.delays_response
            )

    def _replayed(self, request: ChargeRequest, stored_row: Mapping[str, Any]) -> ChargeResult:
        stored = _ledger_charge(stored_row)
        if not request.same_charge_as(stored):
            raise Problem(
                status=409,
                code="idempotency_key_reused",
                title="Idempotency key reused",
                detail=f"key {request.idempotency_key!r} was used for a different charge",
            )
        return stored.result()

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
            return [_ledger_charge(row._mapping) for row in conn.execute(query)]


def _agreement(row: Mapping[Any, Any]) -> Agreement:
    return Agreement(
        agreement_id=row["agreement_id"],
        status=AgreementStatus(row["status"]),
        single_charge_cap=Money(amount_minor=row["cap_amount_minor"], currency=row["cap_currency"]),
    )


def _ledger_charge(row: Mapping[Any, Any]) -> LedgerCharge:
    """A ledger row, as columns or as the JSON `to_jsonb` makes of them (pydantic parses its timestamps)."""
    return LedgerCharge(
        charge_id=row["charge_id"],
        status=ChargeStatus(row["status"]),
        amount=Money(amount_minor=row["amount_minor"], currency=row["currency"]),
        idempotency_key=row["idempotency_key"],
        decline_code=row["decline_code"],
        decline_kind=DeclineKind(row["decline_kind"]) if row["decline_kind"] else None,
        agreement_id=row["agreement_id"],
        reference=ChargeReference(
            contract_id=row["contract_id"], period=row["period"], attempt=row["attempt"]
        ),
        created_at=row["created_at"],
    )


# Signing is idempotent by reference: the agreement is inserted, or the one signed before is found.
_SIGN = """
INSERT INTO sandbox.agreements (agreement_id, reference, user_id, token, status, cap_amount_minor,
                                cap_currency, created_at, updated_at)
VALUES (%(agreement_id)s, %(reference)s, %(user_id)s, %(token)s, %(status)s, %(cap_amount_minor)s,
        %(cap_currency)s, %(now)s, %(now)s)
ON CONFLICT (reference) DO NOTHING
RETURNING agreement_id, status, cap_amount_minor, cap_currency
"""

_SIGNED_BEFORE = """
SELECT agreement_id, status, cap_amount_minor, cap_currency FROM sandbox.agreements
WHERE reference = %(reference)s
"""

_LOCK_AGREEMENT = """
SELECT token, status, cap_amount_minor, cap_currency FROM sandbox.agreements
WHERE agreement_id = %(agreement_id)s FOR UPDATE
"""

# The charges already made in this period, and the charge already recorded under this key (as JSON).
_EARLIER_AND_REPLAY = """
SELECT (SELECT count(*) FROM sandbox.charges
        WHERE agreement_id = %(agreement_id)s AND period = %(period)s),
       (SELECT to_jsonb(c) FROM sandbox.charges c WHERE c.idempotency_key = %(key)s)
"""

_INSERT_CHARGE = """
INSERT INTO sandbox.charges (charge_id, idempotency_key, agreement_id, amount_minor, currency, status,
    decline_code, decline_kind, contract_id, period, attempt, created_at)
VALUES (%(charge_id)s, %(key)s, %(agreement_id)s, %(amount_minor)s, %(currency)s, %(status)s,
    %(decline_code)s, %(decline_kind)s, %(contract_id)s, %(period)s, %(attempt)s, %(created_at)s)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING to_jsonb(charges)
"""

_REVOKE_AGREEMENT = """
UPDATE sandbox.agreements SET status = 'revoked', updated_at = now() WHERE agreement_id = %(agreement_id)s
"""


def _keys(request: ChargeRequest) -> dict[str, Any]:
    return {
        "agreement_id": request.agreement_id,
        "period": request.reference.period,
        "key": request.idempotency_key,
    }


def _charge_row(request: ChargeRequest, outcome: Outcome) -> dict[str, Any]:
    return {
        **_keys(request),
        "charge_id": f"ch_{uuid.uuid4().hex}",
        "amount_minor": request.amount.amount_minor,
        "currency": request.amount.currency,
        "status": outcome.status.value,
        "decline_code": outcome.decline_code,
        "decline_kind": outcome.decline_kind.value if outcome.decline_kind else None,
        "contract_id": request.reference.contract_id,
        "attempt": request.reference.attempt,
        "created_at": datetime.now(UTC),
    }
