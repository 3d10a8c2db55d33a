"""Progress read from the database (it needs no worker, so it works while one is dead), bounded waits,
and the closing checks every fault test makes: one charge per period on both sides, and a clean
reconciliation."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable

from sqlalchemy import func
from sqlmodel import col, select

from infra.db import SessionFactory, transaction
from models.contract import ChargePlan
from models.enums import AttemptStatus, CancelMode, PlanStatus
from models.messages import CancelRequest, SubscriptionState
from reconcile.ledger import HttpLedger
from reconcile.report import plain_line
from reconcile.run import reconcile
from tests.fixtures.sandbox import SandboxGateway
from tests.support.records import ledger_periods, records
from tests.support.temporal import SubscriptionHandle
from workflows.subscription import SubscriptionWorkflow


def paid_periods(sessions: SessionFactory, contract_ids: Iterable[str]) -> dict[str, int]:
    """How many periods each contract has paid, by its paid plans."""
    ids = [uuid.UUID(c) for c in contract_ids]
    counted = {str(c): 0 for c in ids}
    with transaction(sessions) as session:
        rows = session.exec(
            select(ChargePlan.contract_id, func.count())
            .where(col(ChargePlan.contract_id).in_(ids), col(ChargePlan.status) == PlanStatus.PAID)
            .group_by(col(ChargePlan.contract_id))
        )
        counted |= {str(contract_id): int(n) for contract_id, n in rows}
    return counted


async def wait_until(
    check: Callable[[], bool | Awaitable[bool]], *, within: float, what: str, interval: float = 0.25
) -> float:
    """Poll `check` (sync or async) until it holds; return the seconds it took. Fails after `within`."""
    started = time.monotonic()
    while True:
        outcome = check()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(interval)


async def wait_for_paid(
    sessions: SessionFactory, targets: dict[str, int], *, within: float, what: str = ""
) -> dict[str, int]:
    """Until every contract has paid at least its target number of periods."""
    latest: dict[str, int] = {}

    def reached() -> bool:
        latest.update(paid_periods(sessions, targets))
        return all(latest[c] >= n for c, n in targets.items())

    try:
        await wait_until(reached, within=within, what=what or f"paid periods {targets}")
    except AssertionError as late:
        raise AssertionError(f"{late}; paid so far {latest}") from None
    return dict(latest)


async def cancel_now(handles: Iterable[SubscriptionHandle], *, within: float = 60) -> list[SubscriptionState]:
    """Cancel immediately and wait for each workflow to finish."""
    handles = list(handles)
    for handle in handles:
        await handle.signal(SubscriptionWorkflow.cancel, CancelRequest(mode=CancelMode.IMMEDIATELY))
    return list(await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=within))


def assert_one_charge_per_period(sandbox: SandboxGateway, sessions: SessionFactory, contract_id: str) -> int:
    """Periods 0..n-1 each charged exactly once in the gateway's ledger and in our attempts and plans; n."""
    charged = sorted(p for p, status in ledger_periods(sandbox.ledger(contract_id)) if status == "succeeded")
    assert charged == list(range(len(charged))), f"gateway charges by period: {charged}"
    saved = records(sessions, contract_id)
    ours = sorted(a.period for a in saved.attempts if a.status is AttemptStatus.SUCCEEDED)
    assert ours == charged, f"our successful attempts by period: {ours}, gateway: {charged}"
    assert [p.period for p in saved.plans if p.status is PlanStatus.PAID] == charged
    return len(charged)


def assert_reconciles_clean(database_url: str, sandbox: SandboxGateway) -> None:
    report = reconcile(database_url=database_url, ledger=HttpLedger(sandbox.url))
    assert report.clean, "reconcile found:\n" + "\n".join(plain_line(d) for d in report.discrepancies)
    assert report.checked["gateway_charges"] > 0
