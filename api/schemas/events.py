"""The events feed's page and its opaque cursor."""

from __future__ import annotations

import base64
import binascii

from pydantic import BaseModel, Field

from api.problems import INVALID_CURSOR, UNKNOWN_EVENT_TYPE
from models.events import Event, EventType
from models.outbox import OutboxEvent

_PREFIX = "pos:"


class EventsPage(BaseModel):
    data: list[Event]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one.")


def event_out(row: OutboxEvent) -> Event:
    return Event(
        id=row.id,
        type=EventType(row.type),
        created_at=row.created_at,
        subscription_id=row.subscription_id,
        voucher_id=row.voucher_id,
        user_id=row.user_id,
        sequence=row.sequence,
        data=row.data,
    )


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The position a cursor continues after; a cursor this API did not hand out is a 400."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith(_PREFIX) or not text[len(_PREFIX) :].isdigit():
        raise INVALID_CURSOR("the cursor is not one this feed handed out", field="cursor")
    return int(text[len(_PREFIX) :])


def parse_types(values: list[str]) -> list[str]:
    """`type` may repeat and may hold a comma list; every name must be in the catalogue."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    known = {t.value for t in EventType}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UNKNOWN_EVENT_TYPE(
            f"unknown event types: {', '.join(sorted(set(unknown)))}",
            field="type",
            extra={"unknown": unknown},
        )
    return names
