"""`iot-billing listen` against a real API server: it registers a temporary endpoint, prints each event
as one line, forwards it still signed, and deletes the endpoint when stopped."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from sqlalchemy import Engine

from api.app import create_app
from cli.listen import describe, run_listen
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


async def test_listen_prints_forwards_and_cleans_up(
    api_url: str,
    settings: Settings,
    sessions: SessionFactory,
    receivers: Callable[..., Receiver],
) -> None:
    app = receivers().start()
    lines: list[str] = []
    stop = threading.Event()
    listening = threading.Thread(
        target=run_listen,
        kwargs={
            "api_url": api_url,
            "admin_token": ADMIN_TOKEN,
            "event_types": ["voucher.claimed", "subscription.renewed"],
            "forward_to": app.url,
            "stop": stop,
            "echo": lines.append,
        },
        daemon=True,
    )
    listening.start()
    await until(lambda: any(line.startswith("Webhook signing secret: ") for line in lines))
    secret = next(line for line in lines if line.startswith("Webhook signing secret: ")).split(": ")[1]
    app.secrets.append(secret)
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
