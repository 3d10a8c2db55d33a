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

import psycopg
from sqlmodel import Session

from bench.phases import Api, Progress, gather_limited
from infra.db import SessionFactory, make_engine, make_session_factory, transaction
from vouchers.claims import claim_voucher


@dataclass
class ClaimFigures:
    claims_per_s: float  # the claim service itself, one connection per claimer
    api_claims_per_s: float  # the same through HTTP (auth, JSON, idempotency record)
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
    api: Api, voucher_id: str, users: list[str], concurrency: int, progress: Progress
) -> int:
    won = 0

    def job(user_id: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            nonlocal won
            response = await api.http.post(
                f"/v1/vouchers/{voucher_id}/claims",
                headers={**api.user(user_id), "Idempotency-Key": uuid.uuid4().hex},
            )
            if response.status_code in (200, 201):
                won += 1
            elif response.status_code >= 500:
                raise RuntimeError(f"claim -> {response.status_code}: {response.text[:300]}")
            progress(1)

        return run

    await gather_limited(concurrency, [job(u) for u in users])
    return won


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


_RAW_UPDATE = "UPDATE bench_hot_row SET claimed = claimed + 1 WHERE id = 1 AND claimed < stock"


def raw_updates_per_s(database_url: str, *, updates: int, connections: int) -> float:
    """The same contention with nothing but the conditional UPDATE, each on its own connection, which has
    run it once before the clock starts (as each claimer has claimed once)."""
    shares = split_evenly(updates, connections)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_hot_row (id int PRIMARY KEY, claimed int, stock int)")
        conn.execute(
            "INSERT INTO bench_hot_row VALUES (1, 0, %s) ON CONFLICT (id) DO UPDATE SET claimed = 0, "
            "stock = excluded.stock",
            (updates + len(shares),),
        )

    def hammer(worker: int, ready: threading.Barrier) -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(_RAW_UPDATE)
            ready.wait()
            for _ in range(shares[worker]):
                conn.execute(_RAW_UPDATE)

    return _per_s_once_connected(shares, hammer)


async def claim_figures(api: Api, *, claims: int, concurrency: int, progress: Progress) -> ClaimFigures:
    # Speed: stock for everyone, so every request is a real claim (refusals are cheaper and would flatter).
    voucher_id = await _voucher(api, stock=claims)
    users = [f"bench-claimer-{uuid.uuid4().hex[:10]}" for _ in range(claims)]
    started = time.monotonic()
    won = await _claim_all(api, voucher_id, users, concurrency, progress)
    api_claims_per_s = won / (time.monotonic() - started)
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
        scarce,
        [f"bench-rush-{n}-{uuid.uuid4().hex[:6]}" for n in range(2 * stock)],
        concurrency,
        lambda _: None,
    )
    stock, counted, rows = _claims_in_db(api.system.database_url, scarce)
    oversell = max(0, rows - stock) + abs(counted - rows)
    return ClaimFigures(
        claims_per_s=statistics.mean(service),
        api_claims_per_s=api_claims_per_s,
        raw_updates_per_s=statistics.mean(raw),
        oversell=oversell,
    )
