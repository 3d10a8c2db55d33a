"""`iot-billing listen` against a real API server: it registers a temporary endpoint, prints each event
as one line, forwards it still signed, and deletes the endpoint when stopped; or, with --feed, follows
`GET /v1/events` page after page and forwards each event signed with a secret of its own."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from sqlalchemy import Engine

from api.app import create_app
from cli.listen import describe, follow_feed, run_listen
from infra.db import SessionFactory
from infra.settings import Settings
from tests.api.support import ADMIN_TOKEN
from tests.support.events import insert_event
from tests.webhooks.conftest import running_dispatcher
from tests.webhooks.receiver import Receiver, free_port
from tests.webhooks.support import until, webhook_rows


@pytest.fixture
def api_url(settings: Settings, engine: Engine) -> Iterator[str]:
    port = free_port()
    # Without the lifespan: it would connect to Temporal, which the webhook routes never call.
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, engine=engine),
            host="127.0.0.1",
            port=port,
            log_level="error",
            lifespan="off",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def started(target: Callable[..., None], **kwargs: object) -> threading.Thread:
    thread = threading.Thread(target=target, kwargs=kwargs, daemon=True)
    thread.start()
    return thread


async def printed_secret(lines: list[str]) -> str:
    """The signing secret `listen` prints once it is ready."""
    prefix = "Webhook signing secret: "
    await until(lambda: any(line.startswith(prefix) for line in lines))
    return next(line for line in lines if line.startswith(prefix)).removeprefix(prefix)


def test_describe_is_one_readable_line() -> None:
    line = describe(
        {
            "created_at": "2026-12-05T10:20:01.123+00:00",
            "type": "subscription.renewed",
            "subscription_id": "1234abcd-0000-0000-0000-000000000000",
            "sequence": 3,
            "data": {"period": 2, "amount_minor": 3000, "devices": ["a", "b"]},
        }
    )
    assert "\n" not in line
    assert line.startswith("2026-12-05T10:20:01")
    assert "subscription.renewed" in line and "sub 1234abcd" in line and "#3" in line
    assert "period=2 amount_minor=3000" in line and "devices" not in line
    upcoming = describe(
        {
            "created_at": "2026-12-05T10:20:01+00:00",
            "type": "subscription.renewal_upcoming",
            "subscription_id": "1234abcd-0000-0000-0000-000000000000",
            "sequence": 7,
            "data": {
                "period": {"index": 3, "start": "2027-01-05T00:00:00Z", "end": "2027-02-05T00:00:00Z"},
                "due_at": "2027-01-05T00:00:00Z",
                "amount": {"amount_minor": 2400, "currency": "CNY"},
                "device_ids": ["cam-1", "cam-2"],
            },
        }
    )
    assert "period=3 due_at=2027-01-05T00:00:00Z amount=2400 CNY" in upcoming, upcoming


async def test_listen_prints_forwards_and_cleans_up(
    api_url: str,
    settings: Settings,
    sessions: SessionFactory,
    receivers: Callable[..., Receiver],
) -> None:
    app = receivers().start()
    lines: list[str] = []
    stop = threading.Event()
    listening = started(
        run_listen,
        api_url=api_url,
        admin_token=ADMIN_TOKEN,
        event_types=["voucher.claimed", "subscription.renewed"],
        forward_to=app.url,
        stop=stop,
        echo=lines.append,
    )
    app.secrets.append(await printed_secret(lines))
    event_id = insert_event(
        sessions, type="voucher.claimed", voucher_id=uuid.uuid4(), data={"code": "SPRING"}
    )
    insert_event(sessions, type="entitlement.opened", subscription_id=uuid.uuid4(), sequence=1)
    async with running_dispatcher(settings, sessions):
        await until(lambda: app.accepted_ids() == {event_id})
    assert any("voucher.claimed" in line and "code=SPRING" in line for line in lines)
    assert not any("entitlement.opened" in line for line in lines)
    assert app.unverified == 0
    stop.set()
    listening.join(timeout=15)
    assert not listening.is_alive()
    assert webhook_rows(sessions)["WebhookEndpoint"] == 0


async def test_listen_feed_follows_pages_filters_and_forwards_signed(
    api_url: str, sessions: SessionFactory, receivers: Callable[..., Receiver]
) -> None:
    app = receivers().start()
    lines: list[str] = []
    stop = threading.Event()
    following = threading.Thread(
        target=follow_feed,
        kwargs={
            "api_url": api_url,
            "admin_token": ADMIN_TOKEN,
            "event_types": ["voucher.claimed", "subscription.renewed"],
            "forward_to": app.url,
            "since": None,
            "poll_seconds": 0.1,
            "stop": stop,
            "echo": lines.append,
        },
        daemon=True,
    )
    following.start()
    await until(lambda: any(line.startswith("Webhook signing secret: ") for line in lines))
    app.secrets.append(
        next(line for line in lines if line.startswith("Webhook signing secret: ")).split(": ")[1]
    )
    subscription = uuid.uuid4()
    # More than one page (100), so the cursor has to move on; a type not asked for in between.
    wanted = [insert_event(sessions, subscription_id=subscription, sequence=n) for n in range(1, 131)]
    insert_event(sessions, type="entitlement.opened", subscription_id=uuid.uuid4(), sequence=1)
    await until(lambda: app.accepted_ids() == set(wanted))
    # One that comes after the follower caught up arrives as well.
    late = insert_event(sessions, type="voucher.claimed", voucher_id=uuid.uuid4(), data={"code": "LATE"})
    await until(lambda: app.accepted_ids() == {*wanted, late})
    stop.set()
    following.join(timeout=15)

    assert not following.is_alive()
    assert app.unverified == 0 and len(app.accepted) == len(wanted) + 1  # each once
    printed = [line for line in lines if line[:4].isdigit()]  # event lines start with their time
    assert len(printed) == len(wanted) + 1
    assert [e["sequence"] for e in app.accepted_events()[: len(wanted)]] == list(range(1, 131))
    assert not any("entitlement.opened" in line for line in lines)
