"""Many open subscriptions: the worker's memory with them, what each costs PostgreSQL and the Temporal
database in bytes, and whether signups slow down as they accumulate."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg

from bench.options import Context
from bench.phases import (
    baseline_signup_ms,
    gather_limited,
    open_subscriptions,
    percentile,
    signup_ms,
)
from bench.throughput import spent

SIGNUP_CONCURRENCY = 16


async def signups(ctx: Context) -> dict[str, float]:
    """Sequential signup latency through the API against a bare three-activity workflow's."""
    samples = ctx.options.signup_samples
    task = ctx.bar.add_task("signup latency (sequential)", total=2 * samples)
    bare = await baseline_signup_ms(ctx.client, samples=samples)
    ctx.bar.advance(task, samples)
    ours = await signup_ms(ctx.api, samples=samples)
    ctx.bar.advance(task, samples)
    bare_p50 = percentile(bare, 0.5)
    return {
        "signup_p50_ms": percentile(ours, 0.5),
        "signup_p95_ms": percentile(ours, 0.95),
        "signup_p99_ms": percentile(ours, 0.99),
        "bare_three_activity_p50_ms": bare_p50,
        "signup_ratio": percentile(ours, 0.5) / bare_p50,
    }


async def open_many(ctx: Context) -> dict[str, float]:
    options, system = ctx.options, ctx.system
    opened = options.open_subscriptions
    empty_rate = await _signup_rate(ctx, "signup rate before")
    catalog = await ctx.api.catalog(cycle="P1M", users=opened)
    task = ctx.bar.add_task("open subscriptions (memory)", total=opened)
    pg_before, temporal_before = _pg_bytes(system.database_url), _file_bytes(system.temporal_db)
    before = system.cpu.read()
    await open_subscriptions(ctx.api, catalog, progress=lambda n: ctx.bar.advance(task, n))
    signup_cpu = {name: s * 1000 / opened for name, s in spent(before, system.cpu.read()).items()}
    pg_after, temporal_after = _pg_bytes(system.database_url), _file_bytes(system.temporal_db)
    full_rate = await _signup_rate(ctx, "signup rate after")
    figures = {
        "open_subscriptions": float(opened),
        "worker_peak_rss_mb": system.worker_rss.peak_bytes / 2**20,
        "cpu_ms_per_signup": sum(signup_cpu.values()),
        **{f"cpu_ms_per_signup.{name}": ms for name, ms in signup_cpu.items() if ms >= 0.05},
        "postgres_bytes_per_subscription": (pg_after - pg_before) / opened,
        "signups_per_s_empty": empty_rate,
        "signups_per_s_full": full_rate,
        "signup_rate_full_ratio": full_rate / empty_rate,
    }
    if system.temporal_db is not None:
        figures["temporal_db_bytes_per_subscription"] = (temporal_after - temporal_before) / opened
    return figures


async def _signup_rate(ctx: Context, label: str) -> float:
    """Monthly signups per second, SIGNUP_CONCURRENCY at a time."""
    samples = ctx.options.signup_rate_samples
    catalog = await ctx.api.catalog(cycle="P1M", users=samples)
    task = ctx.bar.add_task(label, total=samples)
    started = time.monotonic()

    def job(user: str, device: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await ctx.api.subscribe(catalog, user, device)
            ctx.bar.advance(task, 1)

        return run

    await gather_limited(SIGNUP_CONCURRENCY, [job(u, d) for u, d in catalog.users])
    return samples / (time.monotonic() - started)


def _pg_bytes(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return int(row[0])


def _file_bytes(path: Path | None) -> int:
    """A SQLite database's bytes, its write-ahead log included."""
    if path is None:
        return 0
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())
