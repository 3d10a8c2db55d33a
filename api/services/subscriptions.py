"""Subscription reads from the database: who owns one, its recorded state and its history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel import col, select

from api import problems
from api.auth import Caller
from api.schemas.subscriptions import (
    AttemptOut,
    EventOut,
    HistoryOut,
    PlanOut,
    SubscriptionSummary,
)
from api.services.signup import SCOPE
from infra.db import SessionFactory, transaction
from models.contract import ChargeAttempt, ChargePlan, Contract
from models.entitlement import ContractEvent
from models.enums import AttemptStatus, SubscriptionStatus
from models.idempotency import IdempotencyRecord


@dataclass(frozen=True)
class Subscription:
    """A subscription as the database knows it: the contract once signed, else only its signup record."""

    id: uuid.UUID
    user_id: str
    contract: Contract | None


def find_subscription(
    *, sessions: SessionFactory, caller: Caller, subscription_id: uuid.UUID
) -> Subscription:
    """The subscription if the caller may see it; another user's is reported as not found."""
    with transaction(sessions) as session:
        contract = session.get(Contract, subscription_id)
        owner = contract.user_id if contract else None
        if owner is None:
            owner = session.exec(
                select(IdempotencyRecord.user_id).where(
                    col(IdempotencyRecord.scope) == SCOPE,
                    col(IdempotencyRecord.resource_id) == str(subscription_id),
                )
            ).first()
    if owner is None or not caller.may_access(owner):
        raise problems.SUBSCRIPTION_NOT_FOUND(
            f"no subscription {subscription_id}", field="subscription_id", code="subscription_not_found"
        )
    return Subscription(subscription_id, owner, contract)


def load_history(*, sessions: SessionFactory, subscription_id: uuid.UUID) -> HistoryOut:
    with transaction(sessions) as session:
        plans = session.exec(
            select(ChargePlan)
            .where(col(ChargePlan.contract_id) == subscription_id)
            .order_by(col(ChargePlan.period))
        ).all()
        attempts = session.exec(
            select(ChargeAttempt)
            .where(col(ChargeAttempt.contract_id) == subscription_id)
            .order_by(col(ChargeAttempt.period), col(ChargeAttempt.attempt))
        ).all()
        events = session.exec(
            select(ContractEvent)
            .where(col(ContractEvent.contract_id) == subscription_id)
            .order_by(col(ContractEvent.id))
        ).all()
    attempt_views = [AttemptOut.of(a) for a in attempts]
    return HistoryOut(
        plans=[PlanOut.of(p) for p in plans],
        attempts=attempt_views,
        declines=[a for a in attempt_views if a.status is AttemptStatus.DECLINED],
        events=[EventOut.of(e) for e in events],
    )


def list_subscriptions(
    *,
    sessions: SessionFactory,
    user_id: str | None,
    status: SubscriptionStatus | None,
    limit: int,
    offset: int,
) -> list[SubscriptionSummary]:
    query = select(Contract)
    if user_id is not None:
        query = query.where(col(Contract.user_id) == user_id)
    if status is not None:
        query = query.where(col(Contract.status) == status)
    query = query.order_by(col(Contract.created_at).desc(), col(Contract.id)).limit(limit).offset(offset)
    with transaction(sessions) as session:
        return [SubscriptionSummary.of(c) for c in session.exec(query).all()]


def owner_and_resource(subscription: Subscription) -> tuple[str, str]:
    """Who owns the group and which resource it buys; device changes need a signed contract."""
    if subscription.contract is None:
        raise problems.SUBSCRIPTION_NOT_SIGNED(
            "the subscription is still signing; change its devices once it is active",
            code="subscription_not_signed",
        )
    return subscription.user_id, subscription.contract.resource_type
