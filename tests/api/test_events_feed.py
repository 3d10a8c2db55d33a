"""GET /v1/events: admin only, filtered by type, subscription and time, paged by an opaque cursor."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from events.outbox import NewEvent, write_subscription_events
from infra.db import SessionFactory, driver_connection, transaction
from models.events import EventType, VoucherClaimed
from tests.api.support import admin, assert_problem, user
from tests.support.factories import make_contract, make_product


def write(sessions: SessionFactory, contract_id: uuid.UUID, count: int) -> None:
    events = [
        NewEvent(
            key=f"{contract_id}:test:{n}",
            type=EventType.VOUCHER_CLAIMED if n % 2 else EventType.SUBSCRIPTION_CANCELING,
            data=VoucherClaimed(claim_id=uuid.uuid4(), claimed_at=datetime.now(UTC)),
        )
        for n in range(count)
    ]
    with transaction(sessions) as session:
        write_subscription_events(driver_connection(session), contract_id=contract_id, events=events)


async def test_feed_pages_filters_and_refuses_bad_input(
    http: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    product_id = make_product(sessions)
    first, second = (
        uuid.UUID(make_contract(sessions, user_id=owner, product_id=product_id, devices=[]))
        for owner in ("ann", "bob")
    )
    write(sessions, first, 5)
    write(sessions, second, 2)

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(4):
        params: dict[str, str | int] = {"limit": 2, "subscription_id": str(first)}
        if cursor:
            params["cursor"] = cursor
        page = (await http.get("/v1/events", params=params, headers=admin())).json()
        seen += [event["id"] for event in page["data"]]
        assert all(event["subscription_id"] == str(first) for event in page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5

    typed = await http.get(
        "/v1/events",
        params=[("type", "voucher.claimed,subscription.canceling"), ("type", "voucher.claimed")],
        headers=admin(),
    )
    assert len(typed.json()["data"]) == 7
    only = await http.get("/v1/events", params={"type": "voucher.claimed"}, headers=admin())
    assert {event["type"] for event in only.json()["data"]} == {"voucher.claimed"}
    later = await http.get(
        "/v1/events",
        params={"since": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()},
        headers=admin(),
    )
    assert later.json() == {"data": [], "next_cursor": None}

    assert_problem(
        await http.get("/v1/events", params={"type": "no.such"}, headers=admin()), 422, "unknown-event-type"
    )
    assert_problem(
        await http.get("/v1/events", params={"cursor": "bm9wZQ"}, headers=admin()), 400, "invalid-cursor"
    )
    assert (await http.get("/v1/events", params={"limit": 101}, headers=admin())).status_code == 422
    assert (await http.get("/v1/events", headers=user("ann"))).status_code == 403
