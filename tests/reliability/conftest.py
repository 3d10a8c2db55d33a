"""Fault-injection fixtures: per-test process logs (their tails are added to a failing test's report),
a sandbox gateway of the test's own, and worker processes that are always stopped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import psycopg
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.fixtures.sandbox import SandboxGateway
from tests.reliability.processes import LogRegistry
from tests.reliability.services import WorkerConfig, WorkerConfigFor, Workers, own_sandbox, server_address
from tests.support.temporal import terminate_started

_LOGS = pytest.StashKey[LogRegistry]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    registry = item.stash.get(_LOGS, None)
    if registry is not None and report.failed:
        for name, text in registry.tails():
            report.sections.append((f"{name} log, last lines", text))
    return report


@pytest.fixture
def logs(request: pytest.FixtureRequest, tmp_path: Path) -> LogRegistry:
    registry = LogRegistry(tmp_path / "logs")
    request.node.stash[_LOGS] = registry
    return registry


@pytest.fixture
def sandbox(pg_server_url: str, logs: LogRegistry) -> Iterator[SandboxGateway]:
    database = f"gateway_sandbox_{uuid.uuid4().hex[:10]}"
    gateway = own_sandbox(pg_server_url, database, logs)
    try:
        gateway.start()
        yield gateway
    finally:
        gateway.close()
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'.encode())


@pytest.fixture
def workers(logs: LogRegistry) -> Iterator[Workers]:
    pool = Workers(logs)
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture
async def dev_server(
    dev_server_env: WorkflowEnvironment, task_queue: str
) -> AsyncIterator[WorkflowEnvironment]:
    """The session's in-memory dev server; the workflows this test started are terminated afterwards."""
    yield dev_server_env
    await terminate_started(task_queue)


@pytest.fixture
def worker_config(
    dev_server: WorkflowEnvironment, database_url_for_test: str, sandbox: SandboxGateway, task_queue: str
) -> WorkerConfigFor:
    """Settings for a worker process of this test: the dev server, the test's database, its sandbox."""

    def config(*, gateway_timeout_seconds: float) -> WorkerConfig:
        return WorkerConfig(
            database_url=database_url_for_test,
            temporal_address=server_address(dev_server),
            gateway_url=sandbox.url,
            task_queue=task_queue,
            gateway_timeout_seconds=gateway_timeout_seconds,
        )

    return config
