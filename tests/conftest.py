"""Shared fixtures: a real PostgreSQL (embedded unless IOT_BILLING_TEST_PG_URL names one), a migrated
template database cloned for every test, the sandbox gateway subprocess, and Temporal test servers."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from devstack.embedded_pg import EmbeddedPostgres, database_url, ensure_database
from infra.db import SessionFactory, make_engine, make_session_factory
from infra.migrate import upgrade
from infra.temporal import register_search_attributes, temporal_cli_path, test_server_path
from workflows import search_attributes

pytest_plugins = ["tests.fixtures.sandbox", "tests.fixtures.jwks"]


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A libpq URL of a PostgreSQL server's `postgres` database, owned by this test session."""
    existing = os.environ.get("IOT_BILLING_TEST_PG_URL")
    if existing:
        yield existing
        return
    # Outside pytest's temp root: a concurrent pytest session resets that root to 0700, which would lock
    # out the embedded server's own system user.
    root = Path(tempfile.mkdtemp(prefix="iot-billing-test-pg-"))
    server = EmbeddedPostgres(root / "data")
    url = server.start()
    yield url
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def template_database(pg_server_url: str) -> str:
    name = f"iot_billing_template_{uuid.uuid4().hex[:8]}"
    ensure_database(pg_server_url, name)
    upgrade(database_url(pg_server_url, name))
    return name


@pytest.fixture
def database_url_for_test(pg_server_url: str, template_database: str) -> Iterator[str]:
    """A fresh, migrated database for one test (cloned from the template: milliseconds, not a migration)."""
    name = f"iot_billing_t_{uuid.uuid4().hex[:12]}"
    ensure_database(pg_server_url, name, template=template_database)
    yield database_url(pg_server_url, name)
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@pytest.fixture
def sessions(database_url_for_test: str) -> Iterator[SessionFactory]:
    engine = make_engine(database_url_for_test, pool_size=10)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server per test (it starts quickly): no test's timers or outstanding activities
    can hold another test's clock."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=test_server_path(), data_converter=pydantic_data_converter
    )
    await register_search_attributes(env.client, search_attributes.ALL)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_server_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (in memory), for updates and anything time-skipping cannot show."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path(),
        data_converter=pydantic_data_converter,
        ui=False,
        dev_server_log_level="error",
    )
    await register_search_attributes(env.client, search_attributes.ALL)
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:10]}"


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
