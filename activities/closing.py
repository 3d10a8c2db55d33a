"""Ending a contract (cancel, terminate, end, fail) and recording non-final transitions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from temporalio.exceptions import ApplicationError

from activities.entitlements import end_entitlements
from activities.events import append_event
from events import subscriptions as subscription_events
from events.outbox import write_subscription_events
from gateway.protocol import AgreementRejected, PaymentGateway
from infra.db import SessionFactory, driver_connection, transaction
from models.contract import Contract
from models.enums import SubscriptionStatus
from models.messages import FinishInput, ReleaseAgreementInput, ReplaceAgreementInput, TransitionInput
from models.money import Money
from models.names import AGREEMENT_REJECTED, CONTRACT_NOT_FOUND
from vouchers.redemption import release_claim


def _contract(sessions: SessionFactory, contract_id: uuid.UUID) -> Contract:
    with transaction(sessions) as session:
        contract = session.get(Contract, contract_id)
    if contract is None:
        raise ApplicationError(f"no contract {contract_id}", type=CONTRACT_NOT_FOUND, non_retryable=True)
    return contract


def finish_contract(*, sessions: SessionFactory, gateway: PaymentGateway, request: FinishInput) -> None:
    """Terminate the contract: release the agreement, revoke entitlements (now or at a time), record why."""
    contract_id = uuid.UUID(request.contract_id)
    contract = _contract(sessions, contract_id)
    agreement_status = contract.agreement_status
    if request.release_agreement and agreement_status == "active":
        agreement_status = gateway.release_agreement(agreement_id=contract.agreement_id).status.value
    revoke_at = request.revoke_at or datetime.now(UTC)
    with transaction(sessions) as session:
        locked = session.get(Contract, contract_id, with_for_update=True)
        assert locked is not None
        ended = end_entitlements(session, contract_id=contract_id, until=revoke_at, reason=request.reason)
        if locked.voucher_claim_id is not None:
            # A claim that never paid towards a charge goes back to its user (no-op once used).
            release_claim(session, claim_id=locked.voucher_claim_id, contract_id=contract_id)
        locked.status = request.status
        locked.termination_reason = request.reason
        locked.agreement_status = agreement_status
        locked.updated_at = datetime.now(UTC)
        session.add(locked)
        append_event(
            session,
            contract_id=contract_id,
            dedup_key=f"{contract_id}:finished",
            kind=request.status.value,
            detail={"reason": request.reason, "revoke_at": revoke_at.isoformat()},
        )
        # A retry after the commit finds both written, and the entitlements already revoked.
        closed = subscription_events.finished(
            contract_id=contract_id, status=request.status.value, reason=request.reason, revoked_at=revoke_at
        )
        revocations = subscription_events.revoked(
            contract_id=contract_id, cause="finished", reason=request.reason, entitlements=ended
        )
        write_subscription_events(
            driver_connection(session), contract_id=contract_id, events=[closed, *revocations]
        )


def release_agreement(
    *, sessions: SessionFactory, gateway: PaymentGateway, request: ReleaseAgreementInput
) -> None:
    """Release the payment agreement now (a cancel at period end); entitlements are left as they are."""
    contract_id = uuid.UUID(request.contract_id)
    contract = _contract(sessions, contract_id)
    if contract.agreement_status != "active":
        return
    status = gateway.release_agreement(agreement_id=contract.agreement_id).status.value
    with transaction(sessions) as session:
        locked = session.get(Contract, contract_id, with_for_update=True)
        assert locked is not None
        locked.agreement_status = status
        locked.updated_at = datetime.now(UTC)
        session.add(locked)
        append_event(
            session,
            contract_id=contract_id,
            dedup_key=f"{contract_id}:agreement_released",
            kind="agreement_released",
            detail={"agreement_id": locked.agreement_id, "reason": request.reason},
        )


def record_transition(*, sessions: SessionFactory, request: TransitionInput) -> None:
    contract_id = uuid.UUID(request.contract_id)
    with transaction(sessions) as session:
        contract = session.get(Contract, contract_id, with_for_update=True)
        if contract is None:
            raise ApplicationError(f"no contract {contract_id}", type=CONTRACT_NOT_FOUND, non_retryable=True)
        if not contract.status.is_final:
            contract.status = request.status
            contract.updated_at = datetime.now(UTC)
            session.add(contract)
        if request.status is SubscriptionStatus.CANCELING and not contract.status.is_final:
            canceling = subscription_events.canceling(
                key=request.dedup_key,
                mode=request.detail.get("mode", "at_period_end"),
                reason=request.detail.get("reason", request.kind),
                paid_through=contract.paid_through,
            )
            write_subscription_events(driver_connection(session), contract_id=contract_id, events=[canceling])
        append_event(
            session,
            contract_id=contract_id,
            dedup_key=request.dedup_key,
            kind=request.kind,
            period=request.period,
            detail=dict(request.detail),
        )


def replace_agreement(
    *, sessions: SessionFactory, gateway: PaymentGateway, request: ReplaceAgreementInput
) -> str:
    """Sign the new agreement first, then release the old: the contract is never without one."""
    contract_id = uuid.UUID(request.contract_id)
    contract = _contract(sessions, contract_id)
    try:
        agreement = gateway.sign_agreement(
            agreement_token=request.agreement_token,
            reference=f"{contract_id}:{request.dedup_key}",
            user_id=contract.user_id,
            single_charge_cap=Money(amount_minor=contract.agreement_cap_minor, currency=contract.currency),
        )
    except AgreementRejected as rejected:
        raise ApplicationError(
            str(rejected), {"code": rejected.code}, type=AGREEMENT_REJECTED, non_retryable=True
        ) from rejected
    if contract.agreement_id != agreement.agreement_id and contract.agreement_status == "active":
        gateway.release_agreement(agreement_id=contract.agreement_id)
    with transaction(sessions) as session:
        locked = session.get(Contract, contract_id, with_for_update=True)
        assert locked is not None
        old = locked.agreement_id
        locked.agreement_id = agreement.agreement_id
        locked.agreement_status = agreement.status.value
        locked.updated_at = datetime.now(UTC)
        session.add(locked)
        append_event(
            session,
            contract_id=contract_id,
            dedup_key=f"{contract_id}:agreement_replaced:{request.dedup_key}",
            kind="agreement_replaced",
            detail={"old": old, "new": agreement.agreement_id},
        )
    return agreement.agreement_id
