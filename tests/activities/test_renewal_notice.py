# ruff: noqa: F811  (pytest fixtures imported from the activity tests are parameters here)
"""The notice activity: a retry writes no second event or log entry, it quotes what the charge will take,
and a renewal that would not be verified gets no notice."""

from __future__ import annotations

from datetime import datetime

from temporalio.testing import ActivityEnvironment

from activities.billing import BillingActivities
from infra.db import SessionFactory
from models.messages import RenewalNoticeInput, SignedContract
from models.money import Money
from tests.activities.test_billing_activities import (  # the fixtures, shared with the activity tests
    CountingGateway,
    acts,  # noqa: F401
    gateway,  # noqa: F401
    settle,
    sign,
)
from tests.support.factories import unbind
from tests.support.outbox import subscription_events
from tests.support.records import records

UPCOMING = "subscription.renewal_upcoming"


def notice(signed: SignedContract, due_at: datetime) -> RenewalNoticeInput:
    return RenewalNoticeInput(
        contract_id=signed.contract_id, period=1, device_ids=signed.device_ids, due_at=due_at
    )


def test_a_retried_notice_writes_one_event_quoting_the_charge(
    acts: BillingActivities, sessions: SessionFactory, gateway: CountingGateway
) -> None:
    signed = sign(gateway, sessions, "sandbox_ok")
    first = settle(acts, signed)
    request = notice(signed, first.period_end)

    sent = ActivityEnvironment().run(acts.send_renewal_notice, request)
    again = ActivityEnvironment().run(acts.send_renewal_notice, request)

    assert sent == again
    assert sent.sent and sent.amount == Money(amount_minor=2 * 800, currency="CNY")
    [event] = subscription_events(sessions, signed.contract_id).of(UPCOMING)  # gapless, checked
    assert event.data["amount"] == {"amount_minor": 1600, "currency": "CNY"}
    assert event.data["period"]["index"] == 1 and event.data["period"]["start"] is not None
    assert records(sessions, signed.contract_id).event_kinds.count("renewal_upcoming") == 1
    assert gateway.charges == 1  # the first period's; a notice charges nothing


def test_no_notice_for_a_renewal_that_would_not_be_verified(
    acts: BillingActivities, sessions: SessionFactory, gateway: CountingGateway
) -> None:
    signed = sign(gateway, sessions, "sandbox_ok")
    first = settle(acts, signed)
    for device_id in signed.device_ids:
        unbind(sessions, device_id)

    outcome = ActivityEnvironment().run(acts.send_renewal_notice, notice(signed, first.period_end))

    assert not outcome.sent and outcome.reason == "no_devices"
    assert subscription_events(sessions, signed.contract_id).of(UPCOMING) == []
