"""Webhook tests: the API in-process without Temporal (these routes never call it), a dispatcher running
in the test's event loop, and receivers on local ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from api.app import create_app
from dispatcher.main import Dispatcher, http_client
from infra.db import SessionFactory, make_engine, make_session_factory
from infra.settings import Settings
from tests.api.support import api_client, api_settings
from tests.webhooks.receiver import Receiver

FAST_SCHEDULE = (0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5, 0.5)


def webhook_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "webhook_allow_private": True,
        "webhook_retry_schedule_seconds": FAST_SCHEDULE,
        "webhook_retry_jitter": 0.0,
        "dispatcher_poll_seconds": 0.2,
        "webhook_timeout_seconds": 3.0,
    }
    settings = api_settings("unused", **(values | overrides))
    return settings.model_copy(update={"database_url": database_url})


@pytest.fixture
def engine(database_url_for_test: str) -> Iterator[Engine]:
    engine = make_engine(database_url_for_test, pool_size=10)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> SessionFactory:
    return make_session_factory(engine)


@pytest.fixture
def settings(database_url_for_test: str) -> Settings:
    return webhook_settings(database_url_for_test)


@pytest.fixture
async def http(settings: Settings, engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(create_app(settings, engine=engine)) as client:
        yield client


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(**kwargs: Any) -> Receiver:
        receiver = Receiver(**kwargs)
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.stop()


@asynccontextmanager
async def running_dispatcher(settings: Settings, sessions: SessionFactory) -> AsyncIterator[Dispatcher]:
    stop = asyncio.Event()
    async with http_client(settings) as client:
        dispatcher = Dispatcher(settings, sessions, client)
        task = asyncio.create_task(dispatcher.run(stop))
        try:
            yield dispatcher
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)
