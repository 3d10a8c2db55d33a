"""A worker for every workflow test, on the time-skipping server, the test's database and the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory
from tests.fixtures.sandbox import SandboxGateway
from tests.support.temporal import running_worker


@pytest.fixture
async def env(
    time_skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
) -> AsyncIterator[WorkflowEnvironment]:
    async with running_worker(
        time_skipping_env, sessions=sessions, gateway_url=sandbox_gateway.url, task_queue=task_queue
    ):
        yield time_skipping_env
