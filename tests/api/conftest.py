"""The API in-process over the test's database and the session's Temporal dev server: an httpx client on
the ASGI app (built with the test's engine and the dev server's client, so no lifespan is needed) and, for
tests that need one, a real worker on the test's task queue."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from devstack.embedded_pg import database_url, ensure_database
from infra.db import SessionFactory, make_engine, make_session_factory
from infra.settings import Settings
from tests.api.support import api_client, api_settings
from tests.fixtures.sandbox import SandboxGateway
from tests.support.temporal import running_worker


@pytest.fixture
def engine(database_url_for_test: str) -> Iterator[Engine]:
    engine = make_engine(database_url_for_test, pool_size=5)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def module_engine(pg_server_url: str, template_database: str) -> Iterator[Engine]:
    """One migrated database for a whole module, for tests that must leave it unchanged anyway."""
    name = f"iot_billing_m_{uuid.uuid4().hex[:12]}"
    ensure_database(pg_server_url, name, template=template_database)
    engine = make_engine(database_url(pg_server_url, name), pool_size=5)
    yield engine
    engine.dispose()
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@pytest.fixture(scope="module")
def module_task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sessions(engine: Engine) -> SessionFactory:
    """The app, the worker and the test's own checks share one engine on the test's database."""
    return make_session_factory(engine)


@pytest.fixture
def settings(task_queue: str) -> Settings:
    return api_settings(task_queue)


@pytest.fixture
def app(settings: Settings, engine: Engine, dev_server_env: WorkflowEnvironment) -> FastAPI:
    return create_app(settings, temporal_client=dev_server_env.client, engine=engine)


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(app) as client:
        yield client


@pytest.fixture
async def worker(
    dev_server_env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
) -> AsyncIterator[None]:
    async with running_worker(
        dev_server_env, sessions=sessions, gateway_url=sandbox_gateway.url, task_queue=task_queue
    ):
        yield
