"""The activities a subscription workflow calls, bound to a session factory and a payment gateway.

Sync activities: they run in the worker's thread pool, where blocking database and HTTP calls belong."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities import names
from activities.closing import finish_contract, record_transition, release_agreement, replace_agreement
from activities.settlement import settle_period
from activities.signing import sign_contract
from gateway.protocol import PaymentGateway
from infra.db import SessionFactory
from models.messages import (
    FinishInput,
    ReleaseAgreementInput,
    ReplaceAgreementInput,
    SettleOutcome,
    SettlePeriodInput,
    SignContractInput,
    SignedContract,
    TransitionInput,
)


class BillingActivities:
    def __init__(self, sessions: SessionFactory, gateway: PaymentGateway) -> None:
        self._sessions = sessions
        self._gateway = gateway

    @activity.defn(name=names.SIGN_CONTRACT)
    def sign_contract(self, request: SignContractInput) -> SignedContract:
        return sign_contract(sessions=self._sessions, gateway=self._gateway, request=request)

    @activity.defn(name=names.SETTLE_PERIOD)
    def settle_period(self, request: SettlePeriodInput) -> SettleOutcome:
        return settle_period(sessions=self._sessions, gateway=self._gateway, request=request)

    @activity.defn(name=names.FINISH_CONTRACT)
    def finish_contract(self, request: FinishInput) -> None:
        finish_contract(sessions=self._sessions, gateway=self._gateway, request=request)

    @activity.defn(name=names.RECORD_TRANSITION)
    def record_transition(self, request: TransitionInput) -> None:
        record_transition(sessions=self._sessions, request=request)

    @activity.defn(name=names.REPLACE_AGREEMENT)
    def replace_agreement(self, request: ReplaceAgreementInput) -> str:
        return replace_agreement(sessions=self._sessions, gateway=self._gateway, request=request)

    @activity.defn(name=names.RELEASE_AGREEMENT)
    def release_agreement(self, request: ReleaseAgreementInput) -> None:
        release_agreement(sessions=self._sessions, gateway=self._gateway, request=request)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.sign_contract,
            self.settle_period,
            self.finish_contract,
            self.record_transition,
            self.replace_agreement,
            self.release_agreement,
        ]
