# ruff: noqa: F811  (pytest fixtures imported from the activity tests are parameters here)
"""Two transactions recording events for one subscription at once, the second waiting on the first's lock
of the contract: the sequence stays gapless and unique whether they write different events or the same one
(a retried activity racing the attempt it replaces)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlalchemy import text
from sqlmodel import Session

from activities import settlement
from activities.billing import BillingActivities
from events import subscriptions as subscription_events_of
from events.outbox import NewEvent, write_subscription_events
from infra.db import SessionFactory, driver_connection, transaction
from models.events import Period
from models.messages import SettleOutcome, SettlePeriodInput
from tests.activities.test_billing_activities import (  # the fixtures, shared with the activity tests
    CountingGateway,
    acts,  # noqa: F401
    gateway,  # noqa: F401
    settle,
    sign,
)
from tests.support.factories import make_contract, make_devices, make_product
from tests.support.outbox import subscription_events

T = TypeVar("T")


def canceling(contract_id: str, name: str) -> NewEvent:
    return subscription_events_of.canceling(
        key=f"{contract_id}:{name}", mode="at_period_end", reason=name, paid_through=None
    )


def waiting_on_a_lock(sessions: SessionFactory, within: float = 10.0) -> None:
    """Return once some backend waits on a row lock: the racing writer has started its statement."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with transaction(sessions) as session:
            waiting = session.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ).scalar_one()
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError("the racing writer never waited for the contract's lock")


def race(sessions: SessionFactory, hold: Callable[[Session], None], racer: Callable[[], T]) -> T:
    """Run `hold` in a transaction left open, start `racer` in a thread, let it block on the lock the
    holder took, then commit the holder; the racer's result."""
    holder = sessions()
    try:
        hold(holder)
        with ThreadPoolExecutor(max_workers=1) as pool:
            running = pool.submit(racer)
            waiting_on_a_lock(sessions)
            holder.commit()
            return running.result(timeout=30)
    finally:
        holder.close()


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (["a"], ["b"], ["a", "b"]),
        # The same event from both: the second finds it written once the first commits.
        (["a"], ["a", "b"], ["a", "b"]),
        (["a", "b"], ["a", "b", "c"], ["a", "b", "c"]),
    ],
)
def test_concurrent_writers_number_a_subscription_without_gaps(
    sessions: SessionFactory, first: list[str], second: list[str], expected: list[str]
) -> None:
    product_id = make_product(sessions)
    contract_id = make_contract(
        sessions,
        user_id="seq",
        product_id=product_id,
        devices=list(make_devices(sessions, owner="seq", count=1)),
    )
    cid = uuid.UUID(contract_id)

    def hold(holder: Session) -> None:
        events = [canceling(contract_id, n) for n in first]
        write_subscription_events(driver_connection(holder), contract_id=cid, events=events)

    def racer() -> int:
        with transaction(sessions) as session:
            return write_subscription_events(
                driver_connection(session),
                contract_id=cid,
                events=[canceling(contract_id, n) for n in second],
            )

    race(sessions, hold, racer)

    outbox = subscription_events(sessions, contract_id)  # asserts 1..n, no gap, counter in step
    assert [e.data["reason"] for e in outbox.events] == expected


def test_a_settlement_record_racing_its_own_retry_leaves_no_gap(
    acts: BillingActivities, sessions: SessionFactory, gateway: CountingGateway
) -> None:
    """The settlement's hot statement, the one place that numbers events without a lock taken before:
    its twin (same period, same keys) commits while it waits."""
    signed = sign(gateway, sessions, "sandbox_ok")
    settle(acts, signed)
    renewal = SettlePeriodInput(
        contract_id=signed.contract_id,
        period=1,
        attempt=1,
        device_ids=signed.device_ids,
        due_at=signed.anchor_at,
    )
    pending = settlement._prepare(sessions, renewal)
    assert not isinstance(pending, SettleOutcome)
    base = pending.base
    twin = subscription_events_of.paid(
        contract_id=base.contract_id,
        period=Period(index=1, start=base.start, end=base.end),
        amount=pending.amount,
        charge_id=None,
        device_ids=pending.device_ids,
        resource_type=pending.resource_type,
    )

    def hold(holder: Session) -> None:
        write_subscription_events(driver_connection(holder), contract_id=base.contract_id, events=twin)

    # No gateway result: a plan paid without a charge, recorded by the same statement as a paid one.
    race(sessions, hold, lambda: settlement._record(sessions, pending, None))

    outbox = subscription_events(sessions, signed.contract_id)  # asserts 1..n, no gap, counter in step
    opened = ["entitlement.opened"] * 2
    assert outbox.types == ["subscription.activated", *opened, "subscription.renewed", *opened]
