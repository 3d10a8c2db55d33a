"""The events feed, for catching up on what webhooks deliver (admin)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.auth import AdminDep
from api.deps import SessionsDep
from api.problems import COMMON_RESPONSES
from api.schemas.events import EventsPage, decode_cursor, encode_cursor, event_out, parse_types
from events.feed import MAX_PAGE, events_page
from infra.db import transaction

router = APIRouter(prefix="/v1/events", tags=["events"], responses=COMMON_RESPONSES)


@router.get("", response_model=EventsPage)
async def list_events(
    _admin: AdminDep,
    sessions: SessionsDep,
    type: Annotated[list[str], Query(description="Event types; repeat it or give a comma list.")] = [],  # noqa: B006
    subscription_id: uuid.UUID | None = None,
    since: Annotated[datetime | None, Query(description="Only events created at or after this time.")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> EventsPage:
    """Events in the order they were written, oldest first, one page at a time. Each subscription's
    events carry a gapless `sequence`; the cursor follows the whole feed."""
    types = parse_types(type)
    after = decode_cursor(cursor) if cursor is not None else None

    def read() -> EventsPage:
        with transaction(sessions) as session:
            rows = events_page(
                session,
                types=types,
                subscription_id=subscription_id,
                since=since,
                after_position=after,
                limit=limit,
            )
        last = rows[-1].position if len(rows) == limit else None
        return EventsPage(
            data=[event_out(row) for row in rows],
            next_cursor=encode_cursor(last) if last is not None else None,
        )

    return await run_in_threadpool(read)
