"""The upcoming-renewal notice: quote the renewal as its charge will price it, and record the
`subscription.renewal_upcoming` event with the notice in the contract's log, in one transaction.

Retry safety: the event's id and the log entry's key name the contract and period, so a retried activity
or a replayed workflow writes neither twice."""

from __future__ import annotations

import uuid

import structlog

from activities.events import append_event
from activities.settlement import quote_renewal
from events import subscriptions as subscription_events
from events.outbox import write_subscription_events
from infra.db import SessionFactory, driver_connection, transaction
from models.messages import RenewalNoticeInput, RenewalNoticeOutcome, SettlePeriodInput
from models.money import Money

log = structlog.get_logger(__name__)


def send_renewal_notice(*, sessions: SessionFactory, request: RenewalNoticeInput) -> RenewalNoticeOutcome:
    contract_id = uuid.UUID(request.contract_id)
    # Priced as the charge's first attempt will be: the same load, verification and voucher rules.
    renewal = SettlePeriodInput(
        contract_id=request.contract_id,
        period=request.period,
        attempt=1,
        device_ids=request.device_ids,
        due_at=request.due_at,
    )
    with transaction(sessions) as session:
        quote = quote_renewal(session, renewal)
        verification = quote.verification
        if not verification.ok or verification.plan is None:
            # The renewal would not be charged as things stand; its check at the due time decides.
            reason = verification.failure.value if verification.failure else "not_verified"
            log.info("no renewal notice", contract_id=request.contract_id, reason=reason)
            return RenewalNoticeOutcome(sent=False, reason=reason)
        plan = verification.plan
        amount = Money(amount_minor=plan.amount_minor, currency=quote.currency)
        append_event(
            session,
            contract_id=contract_id,
            dedup_key=f"{contract_id}:renewal_upcoming:p{request.period}",
            kind="renewal_upcoming",
            period=request.period,
            detail={"amount_minor": plan.amount_minor, "due_at": request.due_at.isoformat()},
        )
        upcoming = subscription_events.renewal_upcoming(
            contract_id=contract_id,
            period=quote.period,
            due_at=request.due_at,
            amount=amount,
            device_ids=plan.device_ids,
        )
        write_subscription_events(driver_connection(session), contract_id=contract_id, events=[upcoming])
    return RenewalNoticeOutcome(sent=True, amount=amount)
