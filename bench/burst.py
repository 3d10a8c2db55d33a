"""The month-start burst: N subscriptions due at one instant, drained by the engine, against as many bare
workflows due at one instant.

Subscriptions renew on their own anchors and nothing but a billing day aligns them, so the burst is made
by holding the worker: the subscriptions sign up on a short bench-only cycle, the worker stops once every
first period is paid, and starts again once every second period is due. From that instant the engine has N
renewals waiting, as a worker does when N timers fire together, and it meets them with a cold workflow
cache, as it would on the 1st of a month with more subscriptions than its cache holds. The bare workflows
are held the same way; a second bare burst, whose timers fire together while its worker runs, shows what
the server's timer processing adds."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from bench.bare import BASELINE_TASK_QUEUE, BareBurstWorkflow, BurstInput
from bench.options import Context
from bench.phases import API_CONNECTIONS, gather_limited, percentile
from bench.system import BASELINE_WORKER, System, until_polling
from bench.throughput import spent
from workflows.constants import subscription_workflow_id

# Signups per second the cycle is sized for: fewer, and the first subscriptions renew before the hold.
SIGNUPS_PER_S_FLOOR = 15.0
POLL_S = 0.1
# A worker's workflow tasks go to its sticky queue first and reach another worker only after this long (the
# SDK's default, which both workers keep). The hold outlasts it, so a restarted worker meets every task on
# the normal queue, on both sides alike.
STICKY_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Drain:
    started: float  # epoch seconds: the instant every member was due and a worker was there to take it
    done: list[float]  # epoch seconds each member's due period ran
    cpu_s: dict[str, float]  # CPU seconds by component while it drained

    @property
    def periods_per_s(self) -> float:
        drain_s = max(self.done_after)
        if drain_s <= 0.0:
            raise ValueError(f"{len(self.done)} periods drained in no measurable time: raise --burst")
        return len(self.done) / drain_s

    @property
    def done_after(self) -> list[float]:
        return [max(0.0, at - self.started) for at in self.done]

    def figures(self, prefix: str) -> dict[str, float]:
        lateness = self.done_after
        drain_s = max(lateness)
        busy = {name: s for name, s in self.cpu_s.items() if s * 1000 / len(self.done) >= 0.05}
        return {
            f"{prefix}_drain_s": drain_s,
            f"{prefix}_periods_per_s": self.periods_per_s,
            f"{prefix}_lateness_p50_s": percentile(lateness, 0.5),
            f"{prefix}_lateness_p99_s": percentile(lateness, 0.99),
            # Of the machine's cores, the share the system kept busy while it drained: near 1, CPU bound it.
            f"{prefix}_cpu_busy": sum(self.cpu_s.values()) / (drain_s * (os.cpu_count() or 1)),
            **{f"{prefix}_cpu_ms_per_period.{name}": s * 1000 / len(self.done) for name, s in busy.items()},
        }


async def burst(ctx: Context) -> dict[str, float]:
    size = ctx.options.burst
    engine, early = await _engine_burst(ctx, size)
    bare = await _bare_held_burst(ctx, size)
    live = await _bare_live_burst(ctx, size)
    figures = {
        "burst_subscriptions": float(size),
        **engine.figures("burst_engine"),
        **bare.figures("burst_bare"),
        **live.figures("burst_bare_live"),
        "burst_ratio": engine.periods_per_s / bare.periods_per_s,
    }
    if early:
        figures["burst_engine_renewed_before_hold"] = float(early)
    return figures


# --- engine ----------------------------------------------------------------------------------------------


async def _engine_burst(ctx: Context, size: int) -> tuple[Drain, int]:
    system, api = ctx.system, ctx.api
    cycle_s = int(20 + size / SIGNUPS_PER_S_FLOOR)
    catalog = await api.catalog(cycle=f"PT{cycle_s}S", users=size)
    task = ctx.bar.add_task(f"burst: {size} signups (PT{cycle_s}S)", total=size)

    def signup(user: str, device: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await api.subscribe(catalog, user, device)
            ctx.bar.advance(task, 1)

        return run

    await gather_limited(API_CONNECTIONS, [signup(u, d) for u, d in catalog.users])
    async with await psycopg.AsyncConnection.connect(system.database_url, autocommit=True) as conn:
        due = await _due_times(conn, catalog.product_id)
        ctx.bar.update(task, description=f"burst: engine held until {size} are due")
        stopped, polling = await _restart_when_due(system, "worker", system.task_queue, max(due.values()))
        before = system.cpu.read()
        early = await _paid_before(conn, catalog.product_id, stopped)
        ctx.bar.update(task, description="burst: engine draining", total=2 * size, completed=size)
        done = await _wait_paid(
            conn, catalog.product_id, size, lambda n: ctx.bar.update(task, completed=size + n)
        )
        used = spent(before, system.cpu.read())
    await _terminate(ctx.client, [subscription_workflow_id(c) for c in due])
    held = [at for at in done if at >= stopped]
    return Drain(started=_drain_start(polling, held), done=held, cpu_s=used), early


async def _due_times(conn: psycopg.AsyncConnection[Any], product_id: str) -> dict[str, float]:
    """Each contract's second period: due one cycle after its anchor (its first charge's period end)."""
    cursor = await conn.execute(
        "SELECT c.id::text, extract(epoch FROM p.period_end)::float8 FROM contracts c "
        "JOIN charge_plans p ON p.contract_id = c.id AND p.period = 0 WHERE c.product_id = %s",
        (product_id,),
    )
    return {row[0]: row[1] for row in await cursor.fetchall()}


async def _paid_before(conn: psycopg.AsyncConnection[Any], product_id: str, instant: float) -> int:
    cursor = await conn.execute(
        "SELECT count(*) FROM charge_plans p JOIN contracts c ON c.id = p.contract_id "
        "WHERE c.product_id = %s AND p.period = 1 AND p.status = 'paid' "
        "AND extract(epoch FROM p.paid_at) < %s",
        (product_id, instant),
    )
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _wait_paid(
    conn: psycopg.AsyncConnection[Any], product_id: str, size: int, progress: Callable[[int], None]
) -> list[float]:
    """When each subscription's second period was paid, once all are."""
    while True:
        cursor = await conn.execute(
            "SELECT extract(epoch FROM p.paid_at)::float8 FROM charge_plans p "
            "JOIN contracts c ON c.id = p.contract_id "
            "WHERE c.product_id = %s AND p.period = 1 AND p.status = 'paid'",
            (product_id,),
        )
        paid = [row[0] for row in await cursor.fetchall()]
        progress(len(paid))
        if len(paid) >= size:
            return paid
        await asyncio.sleep(POLL_S)


# --- bare ------------------------------------------------------------------------------------------------


async def _bare_held_burst(ctx: Context, size: int) -> Drain:
    task = ctx.bar.add_task(f"burst: {size} bare workflows, held", total=2 * size)
    due_at = datetime.now(UTC) + timedelta(seconds=20 + size / 40)
    handles = await _start_bare(ctx.client, size, due_at, lambda n: ctx.bar.advance(task, n))
    await _settled(ctx.client, handles)
    if datetime.now(UTC) >= due_at:
        ctx.note("[yellow]warning:[/] the bare burst's worker was held only after its timers fired")
    ctx.bar.update(task, description="burst: bare held until due")
    _, polling = await _restart_when_due(ctx.system, BASELINE_WORKER, BASELINE_TASK_QUEUE, due_at.timestamp())
    before = ctx.system.cpu.read()
    ctx.bar.update(task, description="burst: bare draining")
    done = await _results(handles, lambda n: ctx.bar.advance(task, n))
    return Drain(started=_drain_start(polling, done), done=done, cpu_s=spent(before, ctx.system.cpu.read()))


async def _bare_live_burst(ctx: Context, size: int) -> Drain:
    task = ctx.bar.add_task(f"burst: {size} bare workflows, live", total=2 * size)
    due_at = datetime.now(UTC) + timedelta(seconds=10 + size / 40)
    handles = await _start_bare(ctx.client, size, due_at, lambda n: ctx.bar.advance(task, n))
    await asyncio.sleep(max(0.0, due_at.timestamp() - time.time()))
    before = ctx.system.cpu.read()
    done = await _results(handles, lambda n: ctx.bar.advance(task, n))
    return Drain(started=due_at.timestamp(), done=done, cpu_s=spent(before, ctx.system.cpu.read()))


async def _start_bare(
    client: Client, size: int, due_at: datetime, progress: Callable[[int], None]
) -> list[WorkflowHandle[BareBurstWorkflow, float]]:
    run = uuid.uuid4().hex[:8]
    handles = []
    for n in range(size):
        handles.append(
            await client.start_workflow(
                BareBurstWorkflow.run,
                BurstInput(due_at=due_at),
                id=f"bench-burst-{run}-{n}",
                task_queue=BASELINE_TASK_QUEUE,
            )
        )
        progress(1)
    return handles


async def _settled(client: Client, handles: list[WorkflowHandle[BareBurstWorkflow, float]]) -> None:
    """Until every workflow has run its first period and sleeps on its timer: nothing pending but that."""
    busy: dict[str, bool] = {}

    async def check(handle: WorkflowHandle[BareBurstWorkflow, float]) -> None:
        raw = (await handle.describe()).raw_description
        busy[handle.id] = bool(raw.pending_activities) or raw.HasField("pending_workflow_task")

    waiting = list(handles)
    while waiting:
        await gather_limited(16, [functools.partial(check, h) for h in waiting])
        waiting = [h for h in waiting if busy[h.id]]
        if waiting:
            await asyncio.sleep(0.5)


async def _results(
    handles: list[WorkflowHandle[BareBurstWorkflow, float]], progress: Callable[[int], None]
) -> list[float]:
    done: list[float] = []

    async def one(handle: WorkflowHandle[BareBurstWorkflow, float]) -> None:
        done.append(await handle.result())
        progress(1)

    await asyncio.gather(*(one(h) for h in handles))
    return done


# --- holding a worker ------------------------------------------------------------------------------------


async def _restart_when_due(system: System, name: str, task_queue: str, due: float) -> tuple[float, float]:
    """Stop the worker, start it again once `due` has passed, and return when it stopped and when it was
    seen polling again."""
    stopped_at: list[float] = []

    def hold() -> None:
        stopped_at.append(time.time())
        time.sleep(max(0.0, due - time.time()) + STICKY_TIMEOUT_S + 1.0)

    child = await asyncio.to_thread(system.restart, name, stopped=hold)
    await until_polling(system, child, task_queue)
    return stopped_at[0], time.time()


def _drain_start(polling: float, done: list[float]) -> float:
    """The describe call that sees a restarted worker polling can come after its first tasks ran (a small
    burst may even be drained by then): the drain began no later than the first period it ran."""
    return min([polling, *done])


async def _terminate(client: Client, workflow_ids: list[str]) -> None:
    async def one(workflow_id: str) -> None:
        with contextlib.suppress(RPCError):  # already closed
            await client.get_workflow_handle(workflow_id).terminate("bench done")

    await gather_limited(32, [functools.partial(one, w) for w in workflow_ids])
