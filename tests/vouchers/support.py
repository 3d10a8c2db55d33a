"""Build vouchers for tests: one call, sensible windows around `now`, any field overridable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.db import SessionFactory, transaction
from models.voucher import Voucher
from vouchers.admin import create_voucher
from vouchers.schemas import VoucherCreate
from vouchers.stock import claimed_count
from vouchers.transitions import enable_voucher

DAY = timedelta(days=1)


def voucher_request(now: datetime | None = None, **overrides: Any) -> VoucherCreate:
    """Valid from a day ago for 30 days; claimable and usable throughout; 25% off the first period."""
    start = (now or datetime.now(UTC)) - DAY
    fields: dict[str, Any] = {
        "name": "Spring camera promo",
        "type": "percent_off",
        "value": 25,
        "resource_type": "cloud_video_storage",
        "valid_from": start,
        "valid_until": start + 30 * DAY,
        "stock": 100,
    }
    return VoucherCreate.model_validate(fields | overrides)


def make_voucher(
    sessions: SessionFactory, *, enabled: bool = True, now: datetime | None = None, **overrides: Any
) -> Voucher:
    at = now or datetime.now(UTC)
    with transaction(sessions) as session:
        voucher = create_voucher(session, request=voucher_request(at, **overrides), now=at)
        if enabled:
            voucher = enable_voucher(session, voucher_id=voucher.id, now=at)
    return voucher


def claimed(sessions: SessionFactory, voucher_id: uuid.UUID) -> int:
    """Claims on the voucher's stock, summed over its stripes."""
    with transaction(sessions) as session:
        return claimed_count(session, voucher_id)


def reload(sessions: SessionFactory, voucher_id: uuid.UUID) -> Voucher:
    with transaction(sessions) as session:
        voucher = session.get(Voucher, voucher_id)
    assert voucher is not None
    return voucher
