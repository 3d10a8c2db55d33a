"""The activities a subscription workflow calls, bound to a session factory and a payment gateway.

Sync activities: they run in the worker's thread pool, where blocking database and HTTP calls belong."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from temporalio import activity

from activities.closing import finish_contract, record_transition, release_agreement, replace_agreement
from activities.notice import send_renewal_notice
from activities.settlement import settle_period
from activities.signing import sign_contract
from gateway.protocol import PaymentGateway
from infra.db import SessionFactory
from models import names
from models.messages import (
    FinishInput,
    ReleaseAgreementInput,
    RenewalNoticeInput,
    RenewalNoticeOutcome,
    ReplaceAgreementInput,
    SettleOutcome,
    SettlePeriodInput,
    SignContractInput,
    SignupOutcome,
    TransitionInput,
)

log = structlog.get_logger(__name__)


class BillingActivities:
    def __init__(self, sessions: SessionFactory, gateway: PaymentGateway) -> None:
        self._sessions = sessions
        self._gateway = gateway

    @activity.defn(name=names.SETTLE_PERIOD)
    def settle_period(self, request: SettlePeriodInput) -> SettleOutcome:
        return settle_period(sessions=self._sessions, gateway=self._gateway, request=request)

    @activity.defn(name=names.SIGN_AND_SETTLE_FIRST)
    def sign_and_settle_first(self, request: SignContractInput) -> SignupOutcome:
        """Signing, then the first period's first charge attempt, in one step of the workflow.

        A charge that cannot be made yet (the gateway or the database failing) is not retried here: a retry
        of this step would sign again first, and signing gives up after minutes while a charge keeps trying.
        The workflow makes that charge as a step of its own, with the same idempotency key."""
        signed = sign_contract(sessions=self._sessions, gateway=self._gateway, request=request)
        first = SettlePeriodInput(
            contract_id=signed.contract_id,
            period=0,
            attempt=1,
            device_ids=signed.device_ids,
            due_at=signed.anchor_at,
        )
        try:
            charged = settle_period(sessions=self._sessions, gateway=self._gateway, request=first)
        except Exception as error:
            log.warning("first charge left to its own step", contract_id=signed.contract_id, error=str(error))
            return SignupOutcome(signed=signed)
        return SignupOutcome(signed=signed, first=charged)

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

    @activity.defn(name=names.SEND_RENEWAL_NOTICE)
    def send_renewal_notice(self, request: RenewalNoticeInput) -> RenewalNoticeOutcome:
        return send_renewal_notice(sessions=self._sessions, request=request)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.settle_period,
            self.sign_and_settle_first,
            self.finish_contract,
            self.record_transition,
            self.replace_agreement,
            self.release_agreement,
            self.send_renewal_notice,
        ]
