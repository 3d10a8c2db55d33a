"""PostgreSQL (our own server, not the session's) is restarted while subscriptions are charging: activities
fail while it is down and are retried; afterwards no record is missing — every paid period has its plan,
attempt, entitlements and event — and the gateway's ledger agrees."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest
from temporalio.testing import WorkflowEnvironment

from devstack.embedded_pg import EmbeddedPostgres
from infra.db import SessionFactory, make_engine, make_session_factory
from tests.fixtures.sandbox import SandboxGateway
from tests.reliability.checks import (
    assert_one_charge_per_period,
    assert_reconciles_clean,
    cancel_now,
    paid_periods,
    wait_for_paid,
)
from tests.reliability.history import retried_charges
from tests.reliability.processes import LogRegistry
from tests.reliability.services import WorkerConfig, Workers, server_address
from tests.support.factories import make_devices, make_product
from tests.support.own_postgres import own_postgres_server
from tests.support.records import records
from tests.support.temporal import start_subscription

DOWN_SECONDS = 5.0


@pytest.fixture
def own_postgres(logs: LogRegistry) -> Iterator[tuple[EmbeddedPostgres, str]]:
    with own_postgres_server() as (server, database):
        logs.add("postgres", server.data_dir / "log")
        yield server, database


@pytest.mark.timeout(180)
async def test_postgres_restart_loses_no_record(
    dev_server: WorkflowEnvironment,
    own_postgres: tuple[EmbeddedPostgres, str],
    sandbox: SandboxGateway,
    workers: Workers,
    task_queue: str,
) -> None:
    server, database = own_postgres
    engine = make_engine(database, pool_size=2)
    sessions: SessionFactory = make_session_factory(engine)
    workers.start(
        "worker",
        WorkerConfig(
            database_url=database,
            temporal_address=server_address(dev_server),
            gateway_url=sandbox.url,
            task_queue=task_queue,
        ),
    )
    product_id = make_product(sessions, price=900, cycle="PT2S")
    started = [
        await start_subscription(
            dev_server,
            task_queue=task_queue,
            user_id=owner,
            product_id=product_id,
            device_ids=make_devices(sessions, owner=owner, count=2),
            periods_per_run=4,
        )
        for owner in ("dee", "eli", "fay")
    ]
    ids = [contract_id for contract_id, _ in started]
    await wait_for_paid(sessions, dict.fromkeys(ids, 2), within=60)

    server.stop()
    await asyncio.sleep(DOWN_SECONDS)
    assert server.start() and server.data_dir.exists()
    before = paid_periods(sessions, ids)
    await wait_for_paid(
        sessions, {c: n + 3 for c, n in before.items()}, within=90, what="charging after restart"
    )
    finals = await cancel_now(handle for _, handle in started)

    retried = [await retried_charges(dev_server.client, handle) for _, handle in started]
    assert sum(retried) > 0, "the restart should have failed some activities"
    for contract_id, final in zip(ids, finals, strict=True):
        periods = assert_one_charge_per_period(sandbox, sessions, contract_id)
        assert final.periods_charged == periods
        saved = records(sessions, contract_id)
        assert Counter(e.kind for e in saved.events)["period_paid"] == periods
        assert set(saved.entitlements) == set(saved.plans[-1].device_ids)
        assert saved.contract is not None and saved.contract.paid_through == saved.plans[-1].period_end
    engine.dispose()
    assert_reconciles_clean(database, sandbox)
