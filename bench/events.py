"""Events leaving the engine: the throughput ratio with a webhook endpoint taking every event, how long an
event takes from its change's commit to the receiver, and the dispatcher's deliveries per second against a
bare loop that POSTs the same bodies to the same receiver."""

from __future__ import annotations

import asyncio
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import psycopg

from bench.options import Context
from bench.phases import gather_limited, percentile
from bench.system import free_port
from bench.throughput import one_phase
from events.wakeup import NEW_EVENTS_CHANNEL
from infra.settings import Settings
from webhooks.envelope import Envelope

RECEIVER = "webhook-receiver"
DRAIN_TIMEOUT_S = 300.0


async def events_figures(ctx: Context) -> dict[str, float]:
    port = free_port()
    ctx.system.spawn(RECEIVER, [sys.executable, "-m", "bench.receiver", "--port", str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        await _until_listening(port)
        async with httpx.AsyncClient(base_url=base, timeout=30) as receiver:
            live, figures = await _events_on(ctx, base, receiver)
            figures.update(await _delivery_rate(ctx, base, receiver, live))
    finally:
        ctx.system.stop(RECEIVER)
    return figures


async def _events_on(ctx: Context, base: str, receiver: httpx.AsyncClient) -> tuple[str, dict[str, float]]:
    """Baseline, then the engine with an endpoint taking every event; the latency of each delivery. Returns
    the endpoint too."""
    endpoint = await _endpoint(ctx, f"{base}/live")
    order = ("baseline", "engine", "engine", "baseline")
    task = ctx.bar.add_task("events on: baseline, engine", total=len(order))
    rates: dict[str, list[float]] = {"baseline": [], "engine": []}
    for phase in order:
        rate, _, _ = await one_phase(ctx, phase)
        rates[phase].append(rate)
        ctx.bar.advance(task, 1)
    baseline, engine = statistics.mean(rates["baseline"]), statistics.mean(rates["engine"])
    async with await psycopg.AsyncConnection.connect(ctx.system.database_url, autocommit=True) as conn:
        await _delivered(conn, endpoint)
        await _disable(ctx, endpoint)
        arrived = first_arrivals(await _received(receiver, "/live"))
        cursor = await conn.execute(
            "SELECT id, extract(epoch FROM created_at)::float8 FROM events WHERE id = ANY(%s)",
            (list(arrived),),
        )
        latency = [arrived[event_id] - created for event_id, created in await cursor.fetchall()]
    return endpoint, {
        "events_on_baseline_periods_per_s": baseline,
        "events_on_engine_periods_per_s": engine,
        "events_on_ratio": engine / baseline,
        "events_delivered": float(len(latency)),
        "delivery_p50_s": percentile(latency, 0.5),
        "delivery_p99_s": percentile(latency, 0.99),
    }


async def _delivery_rate(ctx: Context, base: str, receiver: httpx.AsyncClient, live: str) -> dict[str, float]:
    """The events `live` took, queued again at once for a second endpoint, against a bare loop."""
    endpoint = await _endpoint(ctx, f"{base}/backlog")
    async with await psycopg.AsyncConnection.connect(ctx.system.database_url, autocommit=True) as conn:
        envelopes = await _envelopes(conn, live)
        task = ctx.bar.add_task(f"events: {len(envelopes)} by the dispatcher, bare", total=2 * len(envelopes))
        started = time.time()
        await conn.execute(
            "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, subscription_id, sequence, status, "
            "attempts, next_attempt_at) SELECT gen_random_uuid(), e.id, %s, e.subscription_id, e.sequence, "
            "'pending', 0, now() FROM events e WHERE e.id = ANY(%s)",
            (endpoint, [e.id for e in envelopes]),
        )
        await conn.execute(f"NOTIFY {NEW_EVENTS_CHANNEL}")
        await _delivered(conn, endpoint, progress=lambda n: ctx.bar.update(task, completed=n))
        await _disable(ctx, endpoint)
    arrivals = first_arrivals(await _received(receiver, "/backlog"))
    dispatcher = len(arrivals) / (max(arrivals.values()) - started)
    bare = await _bare_loop(base, envelopes, lambda: ctx.bar.advance(task, 1))
    return {
        "events_queued": float(len(envelopes)),
        "dispatcher_events_per_s": dispatcher,
        "bare_post_events_per_s": bare,
        "events_ratio": dispatcher / bare,
    }


async def _bare_loop(base: str, envelopes: list[Envelope], progress: Callable[[], None]) -> float:
    """The same bodies POSTed with as many connections as the dispatcher sends on, and nothing else."""
    concurrency = Settings().dispatcher_concurrency
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency), timeout=30) as client:

        def post(body: bytes) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                response = await client.post(f"{base}/bare", content=body)
                response.raise_for_status()
                progress()

            return run

        bodies = [envelope.body() for envelope in envelopes]
        started = time.monotonic()
        await gather_limited(concurrency, [post(body) for body in bodies])
        return len(bodies) / (time.monotonic() - started)


async def _endpoint(ctx: Context, url: str) -> str:
    created = await ctx.api.post(
        "/v1/webhook-endpoints",
        {"url": url, "event_types": ["*"], "description": "bench receiver"},
        ctx.api.admin,
    )
    endpoint_id: str = created.json()["id"]
    return endpoint_id


async def _disable(ctx: Context, endpoint: str) -> None:
    response = await ctx.api.http.patch(
        f"/v1/webhook-endpoints/{endpoint}", json={"enabled": False}, headers=ctx.api.admin
    )
    response.raise_for_status()


async def _delivered(
    conn: psycopg.AsyncConnection[Any], endpoint: str, progress: Callable[[int], None] | None = None
) -> None:
    """Until every event is planned and none of the endpoint's deliveries is pending."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        cursor = await conn.execute(
            "SELECT (SELECT count(*) FROM events WHERE dispatched_at IS NULL), "
            "count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'delivered') "
            "FROM webhook_deliveries WHERE endpoint_id = %s",
            (endpoint,),
        )
        row = await cursor.fetchone()
        assert row is not None
        if progress is not None:
            progress(int(row[2]))
        if row[0] == 0 and row[1] == 0:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"webhook deliveries still pending after {DRAIN_TIMEOUT_S:g} s")


async def _envelopes(conn: psycopg.AsyncConnection[Any], endpoint: str) -> list[Envelope]:
    """Every event the endpoint took, as the dispatcher sends it."""
    cursor = await conn.execute(
        "SELECT e.id, e.type, e.created_at, e.subscription_id, e.voucher_id, e.user_id, e.sequence, e.data "
        "FROM events e JOIN webhook_deliveries d ON d.event_id = e.id "
        "WHERE d.endpoint_id = %s AND d.status = 'delivered' ORDER BY e.position",
        (endpoint,),
    )
    return [
        Envelope(
            id=row[0],
            type=row[1],
            created_at=row[2],
            subscription_id=row[3],
            voucher_id=row[4],
            user_id=row[5],
            sequence=row[6],
            data=row[7],
        )
        for row in await cursor.fetchall()
    ]


async def _received(receiver: httpx.AsyncClient, path: str) -> list[tuple[str, float]]:
    response = await receiver.get("/received", params={"path": path})
    response.raise_for_status()
    return [(str(item[0]), float(item[1])) for item in response.json()]


def first_arrivals(notes: list[tuple[str, float]]) -> dict[str, float]:
    """Each event once, at its first arrival (delivery is at least once)."""
    first: dict[str, float] = {}
    for event_id, at in notes:
        first.setdefault(event_id, at)
    return first


async def _until_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the webhook receiver did not listen on port {port}")
