"""Run the voucher lifecycle worker for one test, wait on the workflow's own view of itself, and record its
history for the replay test when asked (IOT_BILLING_RECORD_HISTORIES=<version>, as tests/histories does)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.vouchers import VoucherActivities
from api.services.voucher_lifecycle import LifecycleHandle
from infra.db import SessionFactory
from infra.workflow_runner import workflow_runner
from vouchers.lifecycle import VoucherLifecycleState
from workflows.voucher_lifecycle import VoucherLifecycleWorkflow


@asynccontextmanager
async def lifecycle_worker(
    env: WorkflowEnvironment, *, sessions: SessionFactory, task_queue: str
) -> AsyncIterator[None]:
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[VoucherLifecycleWorkflow],
            activities=VoucherActivities(sessions).all(),
            activity_executor=executor,
            workflow_runner=workflow_runner(env.client.data_converter),
        ):
            yield


async def wait_for(
    handle: LifecycleHandle, predicate: Callable[[VoucherLifecycleState], bool], *, within: float = 20.0
) -> VoucherLifecycleState:
    """Query in real time until the predicate holds (time-skipping does not skip while we only query)."""
    deadline = time.monotonic() + within
    state: VoucherLifecycleState | None = None
    while time.monotonic() < deadline:
        state = await handle.query(VoucherLifecycleWorkflow.state)
        if predicate(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"never matched within {within}s; last: {state}")


HISTORIES = Path(__file__).parent / "histories"


async def record_history(handle: LifecycleHandle, name: str) -> None:
    version = os.environ.get("IOT_BILLING_RECORD_HISTORIES")
    if version:
        history = await handle.fetch_history()
        (HISTORIES / f"{version}-{name}.json").write_text(history.to_json())
