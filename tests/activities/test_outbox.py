# ruff: noqa: F811  (pytest fixtures imported from the activity tests are parameters here)
"""The outbox beside the changes: a retried activity writes no twin and burns no sequence number, and a
change rolled back takes its events with it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities import closing
from activities.billing import BillingActivities
from events.outbox import write_subscription_events
from events.subscriptions import paid
from infra.db import SessionFactory, driver_connection, transaction
from models.contract import Contract
from models.enums import SubscriptionStatus
from models.events import Period
from models.messages import FinishInput
from models.money import Money
from tests.activities.test_billing_activities import (  # the fixtures, shared with the activity tests
    CountingGateway,
    acts,  # noqa: F401
    gateway,  # noqa: F401
    settle,
    sign,
)
from tests.support.outbox import subscription_events


def finish(contract_id: str) -> FinishInput:
    return FinishInput(
        contract_id=contract_id, status=SubscriptionStatus.CANCELED, reason="user_request", revoke_at=None
    )


def test_activities_retried_after_commit_write_no_twin_and_no_gap(
    acts: BillingActivities,
    sessions: SessionFactory,
    gateway: CountingGateway,
) -> None:
    signed = sign(gateway, sessions, "sandbox_ok")
    settle(acts, signed)
    settle(acts, signed)
    assert subscription_events(sessions, signed.contract_id).types == [
        "subscription.activated",
        "entitlement.opened",
        "entitlement.opened",
    ]
    ActivityEnvironment().run(acts.finish_contract, finish(signed.contract_id))
    ActivityEnvironment().run(acts.finish_contract, finish(signed.contract_id))

    outbox = subscription_events(sessions, signed.contract_id)
    assert outbox.types[3:] == ["subscription.canceled", "entitlement.revoked", "entitlement.revoked"]
    # The record step itself, replayed: its ids are taken, so nothing is written or numbered.
    again = outbox.events[:3]
    with transaction(sessions) as session:
        first = again[0].data
        rebuilt = paid(
            contract_id=uuid.UUID(signed.contract_id),
            period=Period.model_validate(first["period"]),
            amount=Money.model_validate(first["amount"]),
            charge_id=first["charge_id"],
            device_ids=first["device_ids"],
            resource_type=signed.resource_type,
        )
        written = write_subscription_events(
            driver_connection(session), contract_id=uuid.UUID(signed.contract_id), events=rebuilt
        )
    assert written == 0
    assert len(subscription_events(sessions, signed.contract_id).events) == 6


def test_a_change_rolled_back_takes_its_events_with_it(
    acts: BillingActivities,
    sessions: SessionFactory,
    gateway: CountingGateway,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signed = sign(gateway, sessions, "sandbox_ok")
    settle(acts, signed)

    def write_then_fail(*args: Any, **kwargs: Any) -> int:
        write_subscription_events(*args, **kwargs)
        raise RuntimeError("the database went away before the commit")

    monkeypatch.setattr(closing, "write_subscription_events", write_then_fail)
    with pytest.raises(RuntimeError):
        ActivityEnvironment().run(acts.finish_contract, finish(signed.contract_id))

    assert len(subscription_events(sessions, signed.contract_id).events) == 3
    with transaction(sessions) as session:
        contract = session.get(Contract, uuid.UUID(signed.contract_id))
    assert contract is not None and contract.status is not SubscriptionStatus.CANCELED
    assert datetime.now(UTC) > contract.created_at
