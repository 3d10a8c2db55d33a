"""A signup whose outcome is not decided within the API's wait (no worker on the task queue yet): a 503
that says to retry with the same key, and the retry, once a worker runs, attaches to the same workflow."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.services import signup_outcome
from infra.db import SessionFactory
from tests.api.support import assert_problem, create_product, register_devices, subscribe
from tests.fixtures.sandbox import SandboxGateway
from tests.support.temporal import running_worker
from workflows.constants import subscription_workflow_id


async def test_an_undecided_signup_answers_503_and_the_retry_attaches_to_the_same_workflow(
    http: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    dev_server_env: WorkflowEnvironment,
    sessions: SessionFactory,
    sandbox_gateway: SandboxGateway,
    task_queue: str,
) -> None:
    monkeypatch.setattr(signup_outcome, "OUTCOME_TIMEOUT", timedelta(seconds=1))
    product_id = await create_product(http)
    devices = await register_devices(http, "ines", 1)

    waiting = await subscribe(http, "ines", product_id, devices, key="slow")

    problem = assert_problem(waiting, 503, "signup-in-progress")
    assert waiting.headers["Retry-After"] == "2"
    workflow_id = subscription_workflow_id(problem["subscription_id"])
    async with running_worker(
        dev_server_env, sessions=sessions, gateway_url=sandbox_gateway.url, task_queue=task_queue
    ):
        monkeypatch.setattr(signup_outcome, "OUTCOME_TIMEOUT", timedelta(seconds=30))
        retried = await subscribe(http, "ines", product_id, devices, key="slow")
        assert retried.status_code == 201, retried.text
        assert retried.json()["id"] == problem["subscription_id"]
    runs = [w async for w in dev_server_env.client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    assert len(runs) == 1
