"""Two workers share the task queue and one is SIGKILLed while it is running a charge: the other carries every
subscription on — the workflows cached on the dead worker, and the stranded charge once the workflow task
that ran it times out — and each period is charged once."""

from __future__ import annotations

import socket

import pytest
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory
from tests.fixtures.sandbox import SandboxGateway
from tests.reliability.checks import (
    assert_one_charge_per_period,
    assert_reconciles_clean,
    cancel_now,
    paid_periods,
    wait_for_paid,
    wait_until,
)
from tests.reliability.history import task_running_on, timed_out_tasks, worker_identities
from tests.reliability.services import WorkerConfigFor, Workers
from tests.support.factories import make_devices, make_product
from tests.support.temporal import SubscriptionHandle, start_subscription

OWNERS = ("jay", "kit", "lou", "max", "ned", "oto")


@pytest.mark.timeout(240)
async def test_two_workers_one_killed_the_other_carries_every_subscription_on(
    dev_server: WorkflowEnvironment,
    sessions: SessionFactory,
    database_url_for_test: str,
    sandbox: SandboxGateway,
    workers: Workers,
    task_queue: str,
    worker_config: WorkerConfigFor,
) -> None:
    # Lost responses hold every charge for 3 s (the workers wait up to 10 s): charges are always in flight.
    config = worker_config(gateway_timeout_seconds=10.0)
    doomed = workers.start("worker-1", config)
    survivor = workers.start("worker-2", config)
    product_id = make_product(sessions, price=400, cycle="PT3S")
    started = [
        await start_subscription(
            dev_server,
            task_queue=task_queue,
            user_id=owner,
            product_id=product_id,
            device_ids=make_devices(sessions, owner=owner, count=1),
            token="sandbox_lost_response",
            periods_per_run=4,
        )
        for owner in OWNERS
    ]
    ids = [contract_id for contract_id, _ in started]
    await wait_for_paid(sessions, dict.fromkeys(ids, 1), within=60)
    doomed_identity = f"{doomed.pid}@{socket.gethostname()}"
    stranded: list[SubscriptionHandle] = []

    async def doomed_is_charging() -> bool:
        stranded.extend(
            [h for _, h in started if await task_running_on(dev_server.client, h, doomed_identity)][:1]
        )
        return bool(stranded)

    await wait_until(doomed_is_charging, within=60, interval=0.1, what="worker-1 running a charge")
    doomed.kill()
    at_kill = paid_periods(sessions, ids)

    await wait_for_paid(sessions, {c: n + 3 for c, n in at_kill.items()}, within=180, what="survivor alone")
    assert survivor.running
    finals = await cancel_now(handle for _, handle in started)

    assert await timed_out_tasks(dev_server.client, stranded[0]) >= 1  # the charge the kill stranded
    busy = set().union(*[await worker_identities(dev_server.client, h) for _, h in started])
    assert {doomed_identity, f"{survivor.pid}@{socket.gethostname()}"} <= busy
    for contract_id, final in zip(ids, finals, strict=True):
        assert final.periods_charged == assert_one_charge_per_period(sandbox, sessions, contract_id)
    assert_reconciles_clean(database_url_for_test, sandbox)
