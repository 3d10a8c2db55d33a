"""The Temporal dev server (persisting to a file) is killed and restarted while subscriptions run, one of
them in dunning: every workflow continues where it was — same runs, next periods, nothing signed or charged
twice — and the worker carries on without a restart of its own."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory
from models.enums import SubscriptionStatus
from tests.fixtures.sandbox import SandboxGateway
from tests.reliability.checks import (
    assert_one_charge_per_period,
    assert_reconciles_clean,
    cancel_now,
    paid_periods,
    wait_for_paid,
)
from tests.reliability.history import run_ids
from tests.reliability.processes import LogRegistry
from tests.reliability.services import FileBackedDevServer, WorkerConfig, Workers
from tests.support.factories import make_devices, make_product
from tests.support.records import records
from tests.support.temporal import start_subscription
from workflows.subscription import SubscriptionWorkflow

DOWN_SECONDS = 5.0


@pytest.mark.timeout(180)
async def test_temporal_restart_every_workflow_continues_where_it_was(
    tmp_path: Path,
    logs: LogRegistry,
    sessions: SessionFactory,
    database_url_for_test: str,
    sandbox: SandboxGateway,
    workers: Workers,
    task_queue: str,
) -> None:
    server = FileBackedDevServer.create(tmp_path, logs)
    env = WorkflowEnvironment.from_client(await server.start())
    try:
        worker = workers.start(
            "worker",
            WorkerConfig(
                database_url=database_url_for_test,
                temporal_address=server.address,
                gateway_url=sandbox.url,
                task_queue=task_queue,
            ),
        )
        product_id = make_product(sessions, price=600, cycle="PT2S", delays=(1,), max_attempts=5)
        started = [
            await start_subscription(
                env,
                task_queue=task_queue,
                user_id=owner,
                product_id=product_id,
                device_ids=make_devices(sessions, owner=owner, count=2),
                token=token,
                periods_per_run=3,
            )
            for owner, token in (("gus", "sandbox_ok"), ("hal", "sandbox_ok"), ("ida", "sandbox_flaky_2"))
        ]
        ids = [contract_id for contract_id, _ in started]
        await wait_for_paid(sessions, dict.fromkeys(ids, 2), within=60)
        runs_before = [(await h.describe()).run_id for _, h in started]

        server.kill()
        paid_at_kill = paid_periods(sessions, ids)
        await asyncio.sleep(DOWN_SECONDS)
        # An activity running at the kill may finish its database work; nothing gets further without Temporal.
        stalled = paid_periods(sessions, ids)
        assert all(stalled[c] <= paid_at_kill[c] + 1 for c in ids), (paid_at_kill, stalled)
        await server.start()
        await wait_for_paid(sessions, {c: n + 3 for c, n in stalled.items()}, within=90, what="after restart")

        assert worker.running  # it rode out the outage on its own
        for (contract_id, handle), run_before in zip(started, runs_before, strict=True):
            state = await handle.query(SubscriptionWorkflow.state)
            assert state.status in {SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE}
            assert state.periods_charged >= stalled[contract_id] + 3
            # The same execution chain, not a new start: the run current at the kill is in it.
            assert run_before in await run_ids(env.client, handle)
        finals = await cancel_now(handle for _, handle in started)

        for contract_id, final in zip(ids, finals, strict=True):
            periods = assert_one_charge_per_period(sandbox, sessions, contract_id)
            assert final.periods_charged == periods
            assert Counter(e.kind for e in records(sessions, contract_id).events)["signed"] == 1
        assert_reconciles_clean(database_url_for_test, sandbox)
    finally:
        workers.stop_all()
        server.process.stop()
