"""The measured phases. Each returns plain figures; nothing here asserts a target."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from temporalio.client import Client

from api.auth import issue_user_token
from bench.bare import BASELINE_TASK_QUEUE, BareInput, BareSubscriptionWorkflow, ThreeActivityWorkflow
from bench.lean_http import LeanHttp
from bench.system import System
from infra.keep_alive import CLIENT_KEEP_ALIVE_S
from workflows.constants import subscription_workflow_id

Progress = Callable[[int], None]
API_CONNECTIONS = 64


async def gather_limited(limit: int, jobs: list[Callable[[], Awaitable[None]]]) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            await job()

    await asyncio.gather(*(one(job) for job in jobs))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- baseline ------------------------------------------------------------------------------------------


async def baseline_periods_per_s(
    client: Client,
    *,
    subscriptions: int,
    periods: int,
    progress: Progress,
    task_queue: str = BASELINE_TASK_QUEUE,
) -> float:
    run = uuid.uuid4().hex[:8]
    started = time.monotonic()
    handles = [
        await client.start_workflow(
            BareSubscriptionWorkflow.run,
            BareInput(periods=periods, cycle_seconds=1.0),
            id=f"bench-bare-{run}-{n}",
            task_queue=task_queue,
        )
        for n in range(subscriptions)
    ]
    for handle in handles:
        await handle.result()
        progress(periods)
    return subscriptions * periods / (time.monotonic() - started)


async def baseline_signup_ms(client: Client, *, samples: int) -> list[float]:
    latencies: list[float] = []
    for n in range(samples):
        started = time.perf_counter()
        await client.execute_workflow(
            ThreeActivityWorkflow.run,
            id=f"bench-three-{uuid.uuid4().hex}-{n}",
            task_queue=BASELINE_TASK_QUEUE,
        )
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


# --- engine through the HTTP API -----------------------------------------------------------------------


@dataclass
class Catalog:
    product_id: str
    users: list[tuple[str, str]]  # (user id, device id)


class Api:
    def __init__(self, system: System) -> None:
        self.system = system
        self.http = httpx.AsyncClient(
            base_url=system.api_url,
            timeout=60,
            limits=httpx.Limits(max_connections=API_CONNECTIONS, keepalive_expiry=CLIENT_KEEP_ALIVE_S),
        )
        # The signups the phases time and count go out on a client that leaves the cores to the system.
        self.lean = LeanHttp(system.api_url)
        self.admin = {"Authorization": f"Bearer {system.admin_token}"}

    def user(self, user_id: str) -> dict[str, str]:
        token = issue_user_token(self.system.user_token_secret, user_id, timedelta(hours=2))
        return {"Authorization": f"Bearer {token}"}

    async def post(self, path: str, body: object, headers: dict[str, str]) -> httpx.Response:
        response = await self.http.post(path, json=body, headers=headers)
        if response.status_code >= 400:
            raise RuntimeError(f"POST {path} -> {response.status_code}: {response.text[:300]}")
        return response

    async def catalog(self, *, cycle: str, users: int) -> Catalog:
        product = await self.post(
            "/v1/products",
            {
                "name": f"bench {cycle}",
                "resource_type": "bench_video",
                "billing_cycle": cycle,
                "unit_price": {"amount_minor": 100, "currency": "CNY"},
                "max_devices": 5,
                "dunning": {"delays_seconds": [1], "max_attempts": 3},
            },
            self.admin,
        )
        run = uuid.uuid4().hex[:8]
        pairs = [(f"bench-{run}-u{n}", f"bench-{run}-d{n}") for n in range(users)]

        def register(user_id: str, device_id: str) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                await self.post("/v1/devices", {"id": device_id, "owner_user_id": user_id}, self.admin)

            return job

        await gather_limited(16, [register(u, d) for u, d in pairs])
        return Catalog(product_id=product.json()["id"], users=pairs)

    async def subscribe(self, catalog: Catalog, user_id: str, device_id: str) -> float:
        started = time.perf_counter()
        response = await self.lean.post_json(
            "/v1/subscriptions",
            {
                "product_id": catalog.product_id,
                "device_ids": [device_id],
                "payment": {"agreement_token": "sandbox_ok"},
            },
            {**self.user(user_id), "Idempotency-Key": uuid.uuid4().hex},
        )
        if response.status != 201:
            raise RuntimeError(f"signup -> {response.status}: {response.body[:300]!r}")
        return (time.perf_counter() - started) * 1000

    async def close(self) -> None:
        await self.lean.close()
        await self.http.aclose()


async def signup_ms(api: Api, *, samples: int) -> list[float]:
    """Sequential signups (so each latency is the system's, not the queue's), on a monthly product."""
    catalog = await api.catalog(cycle="P1M", users=samples)
    return [await api.subscribe(catalog, user, device) for user, device in catalog.users]


@dataclass
class EngineRun:
    periods_per_s: float
    contract_ids: list[str]


async def _paid_counts(conn: psycopg.AsyncConnection[Any], product_id: str) -> dict[str, int]:
    """Per contract of the product: its paid periods."""
    cursor = await conn.execute(
        "SELECT p.contract_id::text, count(*) FROM charge_plans p "
        "JOIN contracts c ON c.id = p.contract_id WHERE c.product_id = %s AND p.status = 'paid' "
        "GROUP BY p.contract_id",
        (product_id,),
    )
    return {row[0]: row[1] for row in await cursor.fetchall()}


async def _last_paid_at(conn: psycopg.AsyncConnection[Any], product_id: str, periods: int) -> datetime:
    cursor = await conn.execute(
        "SELECT max(p.paid_at) FROM charge_plans p JOIN contracts c ON c.id = p.contract_id "
        "WHERE c.product_id = %s AND p.status = 'paid' AND p.period < %s",
        (product_id, periods),
    )
    row = await cursor.fetchone()
    assert row is not None and row[0] is not None
    value: datetime = row[0]
    return value


async def engine_periods_per_s(
    api: Api, client: Client, catalog: Catalog, *, periods: int, progress: Progress
) -> EngineRun:
    """P periods of a subscription for each of the catalog's users (its product has a `PT1S` cycle)."""
    subscriptions = len(catalog.users)
    async with await psycopg.AsyncConnection.connect(api.system.database_url, autocommit=True) as conn:
        started = datetime.now(UTC)
        # As many signups in flight as the client has connections: the baseline starts every workflow
        # without waiting for any, while a signup is answered only once its first charge is decided.
        signing_up = asyncio.create_task(
            gather_limited(API_CONNECTIONS, [_subscribe_job(api, catalog, u, d) for u, d in catalog.users])
        )
        # Each is stopped as soon as it is seen with P periods paid, signups still running or not: the
        # figure counts P periods per subscription, as the baseline's workflows run, and a period begun
        # past P (its timer fires a second after the last charge) takes the machine from the rest.
        stopping: dict[str, asyncio.Task[None]] = {}
        reported = 0
        while len(stopping) < subscriptions:
            if signing_up.done():
                signing_up.result()  # a signup that failed ends the phase here, with its error
            counts = await _paid_counts(conn, catalog.product_id)
            for contract_id, count in counts.items():
                if count >= periods and contract_id not in stopping:
                    handle = client.get_workflow_handle(subscription_workflow_id(contract_id))
                    stopping[contract_id] = asyncio.create_task(handle.terminate("bench done"))
            paid = sum(min(count, periods) for count in counts.values())
            progress(paid - reported)
            reported = paid
            await asyncio.sleep(0.1)
        await signing_up
        await asyncio.gather(*stopping.values())
        finished = await _last_paid_at(conn, catalog.product_id, periods)
    return EngineRun(
        periods_per_s=subscriptions * periods / (finished - started).total_seconds(),
        contract_ids=list(stopping),
    )


def _subscribe_job(api: Api, catalog: Catalog, user_id: str, device_id: str) -> Callable[[], Awaitable[None]]:
    async def job() -> None:
        await api.subscribe(catalog, user_id, device_id)

    return job


async def history_events_per_period(client: Client, database_url: str, contract_ids: list[str]) -> float:
    """Events per paid period over every run of a subscription (a life longer than one run continues as
    new). A subscription stopped after its timer for one more period fired counts that period's events
    too: the figure errs high, never low."""
    sample = contract_ids[:20]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT contract_id::text, count(*) FROM charge_plans "
            "WHERE contract_id = ANY(%s::uuid[]) AND status = 'paid' GROUP BY contract_id",
            (sample,),
        )
        paid: dict[str, int] = {row[0]: row[1] for row in await cursor.fetchall()}
    ratios: list[float] = []
    for contract_id in sample:
        workflow_id = subscription_workflow_id(contract_id)
        events = 0
        async for run in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
            history = await client.get_workflow_handle(workflow_id, run_id=run.run_id).fetch_history()
            events += len(history.events)
        ratios.append((events - 1) / paid[contract_id])  # less the termination that ended the measurement
    return statistics.mean(ratios)


async def open_subscriptions(api: Api, catalog: Catalog, *, progress: Progress) -> None:
    """A subscription that stays open (monthly) for each of the catalog's users, to see the worker's
    memory with many of them cached, and what a signup costs with no renewal beside it."""

    def job(user_id: str, device_id: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await api.subscribe(catalog, user_id, device_id)
            progress(1)

        return run

    await gather_limited(16, [job(u, d) for u, d in catalog.users])
