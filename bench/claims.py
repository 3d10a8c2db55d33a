"""Claims on one hot voucher through the API, against the database's own ceiling: a bare conditional
`UPDATE … WHERE claimed < stock` on one row, from as many connections."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
from sqlmodel import Session

from bench.bare_api import HOT_ROW_TABLE
from bench.lean_http import LeanHttp
from bench.options import Context
from bench.phases import Api, Progress, gather_limited
from bench.system import free_port
from devstack import commands as stack_commands
from infra.db import SessionFactory, make_engine, make_session_factory, transaction
from vouchers.claims import claim_voucher


@dataclass
class ClaimFigures:
    claims_per_s: float  # the claim service itself, one connection per claimer
    raw_updates_per_s: float
    oversell: int


async def _voucher(api: Api, stock: int) -> str:
    now = datetime.now(UTC)
    created = await api.post(
        "/v1/vouchers",
        {
            "name": "bench hot voucher",
            "type": "percent_off",
            "value": 10,
            "resource_type": "bench_video",
            "valid_from": (now - timedelta(hours=1)).isoformat(),
            "valid_until": (now + timedelta(days=1)).isoformat(),
            "stock": stock,
            "per_user_limit": 1,
        },
        api.admin,
    )
    voucher_id: str = created.json()["id"]
    await api.post(f"/v1/vouchers/{voucher_id}/enable", {}, api.admin)
    return voucher_id


async def _claim_all(
    api: Api,
    http: LeanHttp,
    path: str,
    users: list[str],
    concurrency: int,
    progress: Progress,
) -> tuple[int, float]:
    """Claims won, and claims won per second, one POST per user, `concurrency` at a time; on the lean
    client, so the bench's own HTTP work takes as little of the shared cores as it can."""
    won = 0

    def job(user_id: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            nonlocal won
            response = await http.post_json(
                path, {}, {**api.user(user_id), "Idempotency-Key": uuid.uuid4().hex}
            )
            if response.status in (200, 201):
                won += 1
            elif response.status >= 500:
                raise RuntimeError(f"claim -> {response.status}: {response.body[:300]!r}")
            progress(1)

        return run

    started = time.monotonic()
    await gather_limited(concurrency, [job(u) for u in users])
    return won, won / (time.monotonic() - started)


def _claims_in_db(database_url: str, voucher_id: str) -> tuple[int, int, int]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT v.stock, "
            "(SELECT sum(s.claimed) FROM voucher_stock_stripes s WHERE s.voucher_id = v.id), "
            "(SELECT count(*) FROM voucher_claims c WHERE c.voucher_id = v.id) "
            "FROM vouchers v WHERE v.id = %s",
            (voucher_id,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def split_evenly(total: int, connections: int) -> list[int]:
    """`total` operations over at most `connections` connections, none idle and none more than one ahead
    of another: every operation asked for is run, and fewer operations than connections open fewer."""
    if total < 1 or connections < 1:
        raise ValueError(f"need at least one operation and one connection, got {total} and {connections}")
    used = min(total, connections)
    return [total // used + (1 if n < total % used else 0) for n in range(used)]


def _per_s_once_connected(shares: list[int], job: Callable[[int, threading.Barrier], None]) -> float:
    """Operations per second of `job(worker, ready)` on a thread per share. Each job opens its connection,
    waits at `ready`, then runs its share: the clock starts once all are connected."""
    ready = threading.Barrier(len(shares) + 1, timeout=120)
    with ThreadPoolExecutor(len(shares)) as pool:
        running = [pool.submit(job, worker, ready) for worker in range(len(shares))]
        ready.wait()
        started = time.monotonic()
        for each in running:
            each.result()
    return sum(shares) / (time.monotonic() - started)


def service_claims_per_s(database_url: str, voucher_id: str, *, claims: int, connections: int) -> float:
    """Claims through `claim_voucher`, from `connections` threads, each on its own pooled connection. The
    clock starts once every connection is open and has made one claim: the figure is claims, not connection
    set-up, nor a new server session's first call of the claim function (it compiles the function and plans
    its statements; a pooled connection in service has done so long before). The voucher's stock must cover
    `claims` plus one claim per connection."""
    shares = split_evenly(claims, connections)
    engine = make_engine(database_url, pool_size=len(shares))
    sessions = make_session_factory(engine)

    def claim(sessions: SessionFactory, user_id: str) -> None:
        with transaction(sessions) as session:
            claim_voucher(session, voucher_id=uuid.UUID(voucher_id), user_id=user_id, now=datetime.now(UTC))

    def claimer(worker: int, ready: threading.Barrier) -> None:
        with engine.connect() as own:
            claim(lambda: Session(bind=own, expire_on_commit=False), f"svc-{worker}-warm")
            ready.wait()  # held open until all are, so the pool keeps one per thread, each warmed
        for n in range(shares[worker]):
            claim(sessions, f"svc-{worker}-{n}")

    try:
        return _per_s_once_connected(shares, claimer)
    finally:
        engine.dispose()


_RAW_UPDATE = f"UPDATE {HOT_ROW_TABLE} SET claimed = claimed + 1 WHERE id = 1 AND claimed < stock"


def _reset_hot_row(database_url: str, stock: int) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {HOT_ROW_TABLE} (id int PRIMARY KEY, claimed int, stock int)"
        )
        conn.execute(
            f"INSERT INTO {HOT_ROW_TABLE} VALUES (1, 0, %s) ON CONFLICT (id) DO UPDATE SET claimed = 0, "
            "stock = excluded.stock",
            (stock,),
        )


def raw_updates_per_s(database_url: str, *, updates: int, connections: int) -> float:
    """The same contention with nothing but the conditional UPDATE, each on its own connection, which has
    run it once before the clock starts (as each claimer has claimed once)."""
    shares = split_evenly(updates, connections)
    _reset_hot_row(database_url, updates + len(shares))

    def hammer(worker: int, ready: threading.Barrier) -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(_RAW_UPDATE)
            ready.wait()
            for _ in range(shares[worker]):
                conn.execute(_RAW_UPDATE)

    return _per_s_once_connected(shares, hammer)


def _claimers(claims: int) -> list[str]:
    return [f"bench-claimer-{uuid.uuid4().hex[:10]}" for _ in range(claims)]


async def claims_through_api(
    api: Api, http: LeanHttp, *, claims: int, concurrency: int, progress: Progress
) -> float:
    """Claims through the API on a voucher with stock for everyone: every request is a real claim
    (refusals are cheaper and would flatter)."""
    voucher_id = await _voucher(api, stock=claims)
    path = f"/v1/vouchers/{voucher_id}/claims"
    _, rate = await _claim_all(api, http, path, _claimers(claims), concurrency, progress)
    return rate


async def claims_through_bare_api(
    api: Api, http: LeanHttp, *, claims: int, concurrency: int, progress: Progress
) -> float:
    """The same through the bare endpoint (bench.bare_api), on a hot row with stock for everyone."""
    await asyncio.to_thread(_reset_hot_row, api.system.database_url, claims)
    _, rate = await _claim_all(api, http, "/bare/claims", _claimers(claims), concurrency, progress)
    return rate


async def claim_figures(api: Api, *, claims: int, concurrency: int, progress: Progress) -> ClaimFigures:
    # Raw, service, service, raw: a short burst is at the mercy of the machine's moment, so each figure is
    # the mean of two, taken so that drift during the phase weighs on both alike.
    service: list[float] = []
    raw: list[float] = []
    for order in (("raw", "service"), ("service", "raw")):
        for kind in order:
            if kind == "raw":
                raw.append(
                    await asyncio.to_thread(
                        raw_updates_per_s, api.system.database_url, updates=claims, connections=concurrency
                    )
                )
            else:
                direct = await _voucher(api, stock=claims + concurrency)  # and one per claimer to warm up
                service.append(
                    await asyncio.to_thread(
                        service_claims_per_s,
                        api.system.database_url,
                        direct,
                        claims=claims,
                        connections=concurrency,
                    )
                )
    # Exactness: twice as many claimers as stock.
    stock = max(1, claims // 10)
    scarce = await _voucher(api, stock=stock)
    await _claim_all(
        api,
        api.lean,
        f"/v1/vouchers/{scarce}/claims",
        [f"bench-rush-{n}-{uuid.uuid4().hex[:6]}" for n in range(2 * stock)],
        concurrency,
        lambda _: None,
    )
    stock, counted, rows = _claims_in_db(api.system.database_url, scarce)
    oversell = max(0, rows - stock) + abs(counted - rows)
    return ClaimFigures(
        claims_per_s=statistics.mean(service),
        raw_updates_per_s=statistics.mean(raw),
        oversell=oversell,
    )


BARE_API = "bare-api"
TWO_APIS = "api-2-processes"


async def claims_phase(ctx: Context) -> dict[str, float]:
    """Claims in process against the raw UPDATE; through the API against the bare endpoint (A B B A); then
    through an API of two processes against one (2 A A 2). The bare app is stopped before the two-process
    API starts: together with the API's pool they would ask PostgreSQL for more connections than it has."""
    options, api = ctx.options, ctx.api
    task = ctx.bar.add_task("voucher claims on one hot row", total=8 * options.claims)
    advance: Progress = lambda n: ctx.bar.advance(task, n)  # noqa: E731
    service = await claim_figures(
        api, claims=options.claims, concurrency=options.claim_concurrency, progress=advance
    )
    bare = await _against(ctx, BARE_API, "bench.bare_api:create_app", "/openapi.json", 1, advance)
    two = await _against(ctx, TWO_APIS, "api.app:create_app", "/readyz", 2, advance)
    return {
        "claims_per_s": service.claims_per_s,
        "raw_updates_per_s": service.raw_updates_per_s,
        "claims_ratio": service.claims_per_s / service.raw_updates_per_s,
        "api_claims_per_s": bare.api,
        "bare_api_claims_per_s": bare.other,
        "api_claims_ratio": bare.api / bare.other,
        "api_2_processes_claims_per_s": two.other,
        "api_2_processes_ratio": two.other / two.api,
        "oversell": float(service.oversell),
    }


@dataclass(frozen=True)
class _Pair:
    api: float  # claims/s through the stack's API
    other: float  # through the other server


async def _against(
    ctx: Context, name: str, factory: str, ready_path: str, workers: int, progress: Progress
) -> _Pair:
    """Claims/s through the stack's API and through another server started for the purpose, O A A O."""
    options, api, system = ctx.options, ctx.api, ctx.system
    port = free_port()
    system.spawn(name, stack_commands.uvicorn(factory, host=_HOST, port=port, workers=workers))
    other = LeanHttp(f"http://{_HOST}:{port}")
    rates: dict[str, list[float]] = {"api": [], name: []}
    failed = True
    try:
        await _until_ready(f"http://{_HOST}:{port}{ready_path}")
        for kind in (name, "api", "api", name):
            measure = claims_through_bare_api if kind == BARE_API else claims_through_api
            rates[kind].append(
                await measure(
                    api,
                    api.lean if kind == "api" else other,
                    claims=options.claims,
                    concurrency=options.claim_concurrency,
                    progress=progress,
                )
            )
        failed = False
    finally:
        await other.close()
        if failed:
            ctx.note(f"the last lines of {name}'s log:\n" + "\n".join(system.children[name].log_tail(30)))
        system.stop(name)
    return _Pair(api=statistics.mean(rates["api"]), other=statistics.mean(rates[name]))


_HOST = "127.0.0.1"


async def _until_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within a minute")
