"""`iot-billing reconcile` over real PostgreSQL and the sandbox gateway: a subscription that ran normally
reconciles clean (exit 0), and a corrupted row is reported by kind (exit 1), reading the ledger over HTTP
or from the sandbox's tables."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, update
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli.main import app
from infra.db import SessionFactory, transaction
from models.contract import ChargeAttempt
from models.entitlement import Entitlement
from models.outbox import OutboxEvent
from tests.fixtures.sandbox import SandboxGateway
from tests.support.factories import make_devices, make_product
from tests.support.temporal import running_worker, settled, start_subscription


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


@pytest.fixture
async def contract_id(env: WorkflowEnvironment, sessions: SessionFactory, task_queue: str) -> str:
    """A subscription with two paid periods, waiting for its third."""
    product_id = make_product(sessions, price=800, cycle="P30D")
    devices = make_devices(sessions, owner="zoe", count=2)
    contract_id, handle = await start_subscription(
        env, task_queue=task_queue, user_id="zoe", product_id=product_id, device_ids=devices
    )
    await settled(env, handle)
    await env.sleep(timedelta(days=30, minutes=1))
    state = await settled(env, handle)
    assert state.periods_charged == 2
    return contract_id


def run_reconcile(*args: str, json_path: Path) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["reconcile", "--plain", "--json", str(json_path), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(json_path.read_text())


async def test_clean_subscription_then_corrupted_rows(
    contract_id: str,
    sessions: SessionFactory,
    database_url_for_test: str,
    sandbox_gateway: SandboxGateway,
    tmp_path: Path,
) -> None:
    # The session's sandbox also holds other tests' charges: limit to this contract.
    over_http = ("--database-url", database_url_for_test, "--gateway-url", sandbox_gateway.url)
    from_tables = (
        "--database-url",
        database_url_for_test,
        "--gateway-database-url",
        sandbox_gateway.database_url,
    )
    limit = ("--contract", contract_id)

    code, report = run_reconcile(*over_http, *limit, json_path=tmp_path / "clean.json")
    assert (code, report["clean"], report["discrepancies"]) == (0, True, [])
    assert report["checked"] == {
        "contracts": 1,
        "gateway_charges": 2,
        "attempts": 2,
        "plans": 2,
        "entitlements": 2,
        "counters": 0,
        "events": 6,
    }

    cid = uuid.UUID(contract_id)
    with transaction(sessions) as session:
        session.exec(
            update(Entitlement)
            .where(col(Entitlement.contract_id) == cid)
            .values(valid_until=Entitlement.valid_until + timedelta(days=30))
        )
    code, report = run_reconcile(*from_tables, *limit, json_path=tmp_path / "month.json")
    assert code == 1
    assert report["by_kind"] == {"entitlement_without_charge": 2}

    with transaction(sessions) as session:
        session.exec(
            delete(ChargeAttempt).where(col(ChargeAttempt.contract_id) == cid, col(ChargeAttempt.period) == 1)
        )
    code, report = run_reconcile(*over_http, *limit, json_path=tmp_path / "deleted.json")
    assert code == 1
    assert report["by_kind"] == {
        "charge_without_attempt": 1,
        "entitlement_without_charge": 2,
        "plan_paid_without_charge": 1,
    }
    orphan = next(d for d in report["discrepancies"] if d["kind"] == "charge_without_attempt")
    assert (orphan["contract_id"], orphan["period"]) == (contract_id, 1)


async def test_deleted_events_are_reported(
    contract_id: str,
    sessions: SessionFactory,
    database_url_for_test: str,
    sandbox_gateway: SandboxGateway,
    tmp_path: Path,
) -> None:
    cid = uuid.UUID(contract_id)
    with transaction(sessions) as session:
        device_id = session.exec(
            select(Entitlement.device_id).where(col(Entitlement.contract_id) == cid).limit(1)
        ).one()
        session.exec(
            delete(OutboxEvent).where(
                col(OutboxEvent.subscription_id) == cid,
                (col(OutboxEvent.type) == "subscription.renewed")
                | (OutboxEvent.data["device_id"].astext == device_id),
            )
        )
    args = ("--database-url", database_url_for_test, "--gateway-url", sandbox_gateway.url)
    code, report = run_reconcile(*args, "--contract", contract_id, json_path=tmp_path / "events.json")

    assert code == 1
    assert report["by_kind"] == {"entitlement_without_event": 1, "paid_period_without_event": 1}
    missing = next(d for d in report["discrepancies"] if d["kind"] == "paid_period_without_event")
    assert (missing["contract_id"], missing["period"]) == (contract_id, 1)


def test_unreadable_books_exit_2(database_url_for_test: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["reconcile", "--database-url", database_url_for_test, "--gateway-url", "http://127.0.0.1:9"],
    )
    assert result.exit_code == 2
