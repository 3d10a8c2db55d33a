"""The events of a voucher claim's changes, each under the business key of the change it reports."""

from __future__ import annotations

import uuid
from datetime import datetime

from events.outbox import NewEvent
from models.events import EventType, VoucherClaimed, VoucherRedeemed, VoucherReleased


def claimed(*, claim_id: uuid.UUID, claimed_at: datetime) -> NewEvent:
    return NewEvent(
        key=f"voucher_claim:{claim_id}:claimed",
        type=EventType.VOUCHER_CLAIMED,
        data=VoucherClaimed(claim_id=claim_id, claimed_at=claimed_at),
    )


def redeemed(*, claim_id: uuid.UUID, contract_id: uuid.UUID, redeemed_at: datetime) -> NewEvent:
    return NewEvent(
        key=f"voucher_claim:{claim_id}:redeemed",
        type=EventType.VOUCHER_REDEEMED,
        data=VoucherRedeemed(claim_id=claim_id, subscription_id=contract_id, redeemed_at=redeemed_at),
    )


def released(*, claim_id: uuid.UUID, contract_id: uuid.UUID, expired: bool) -> NewEvent:
    """A claim goes back once per contract that held it: the contract is part of the key."""
    return NewEvent(
        key=f"voucher_claim:{claim_id}:released:{contract_id}",
        type=EventType.VOUCHER_RELEASED,
        data=VoucherReleased(claim_id=claim_id, subscription_id=contract_id, expired=expired),
    )
