"""Reading the outbox in tests: a subscription's events in sequence order, checked gapless."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel import col, select

from infra.db import SessionFactory, transaction
from models.contract import Contract
from models.outbox import OutboxEvent


@dataclass(frozen=True)
class Outbox:
    events: list[OutboxEvent]

    @property
    def types(self) -> list[str]:
        return [event.type for event in self.events]

    def of(self, type_: str) -> list[OutboxEvent]:
        return [event for event in self.events if event.type == type_]


def subscription_events(sessions: SessionFactory, contract_id: str) -> Outbox:
    """The subscription's events; asserts their sequence runs 1..n with no gap and matches the contract's
    counter, so every caller checks gaplessness for free."""
    with transaction(sessions) as session:
        rows = list(
            session.exec(
                select(OutboxEvent)
                .where(col(OutboxEvent.subscription_id) == uuid.UUID(contract_id))
                .order_by(col(OutboxEvent.sequence))
            )
        )
        contract = session.get(Contract, uuid.UUID(contract_id))
    assert [event.sequence for event in rows] == list(range(1, len(rows) + 1))
    assert contract is not None and contract.event_sequence == len(rows)
    return Outbox(rows)


def voucher_event_types(sessions: SessionFactory, voucher_id: uuid.UUID) -> list[str]:
    with transaction(sessions) as session:
        rows = session.exec(
            select(OutboxEvent.type)
            .where(col(OutboxEvent.voucher_id) == voucher_id)
            .order_by(col(OutboxEvent.position))
        )
        return list(rows)
