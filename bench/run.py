"""`iot-billing bench`: every figure of DESIGN.md section 7 in one run, on the same servers and worker
settings, printed as a table (and JSON with --json)."""

from __future__ import annotations

import asyncio
import functools
import json
import signal
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from temporalio.client import Client

from bench.claims import claim_figures
from bench.mqtt import mqtt_figures
from bench.phases import (
    Api,
    baseline_periods_per_s,
    baseline_signup_ms,
    engine_periods_per_s,
    history_events_per_period,
    open_subscriptions,
    percentile,
    signup_ms,
)
from bench.system import System, running_system
from infra.codec import codec_for
from infra.settings import Settings
from infra.temporal import connect


@dataclass(frozen=True)
class BenchOptions:
    subscriptions: int = 100
    periods: int = 5
    signup_samples: int = 20
    open_subscriptions: int = 300
    claims: int = 600
    claim_concurrency: int = 32
    rounds: int = 2  # of baseline and engine, in the order B E, E B, …
    # Both phases once, small and unmeasured, before the first round: a cold server made the first
    # round's baseline the slowest phase of the run.
    warmup_subscriptions: int = 20
    # How far ahead the dev server's timer queue reads; None keeps its default (1 s). See docs/benchmarks.md.
    timer_shift_ms: int | None = None
    database_url: str | None = None
    temporal_address: str | None = None


TARGETS = {
    "ratio": (">=", 0.8),
    "signup_ratio": ("<=", 1.5),
    "claims_ratio": (">=", 0.6),
    "mqtt_ratio": (">=", 0.7),
    "oversell": ("==", 0),
    "worker_peak_rss_mb": ("<=", 300),
    "history_events_per_run": ("<=", 2000),
}


async def measure(options: BenchOptions, system: System, console: Console) -> dict[str, float]:
    client = await connect(system.temporal_address, codec=codec_for(system.payload_keys))
    api = Api(system)
    try:
        with Progress(
            TextColumn("{task.description:<34}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            rates = await _throughput(options, system, client, api, bar)
            task = bar.add_task("signup latency (sequential)", total=2 * options.signup_samples)
            bare_signup = await baseline_signup_ms(client, samples=options.signup_samples)
            bar.advance(task, options.signup_samples)
            signups = await signup_ms(api, samples=options.signup_samples)
            bar.advance(task, options.signup_samples)
            events = await history_events_per_period(client, system.database_url, rates.contract_ids)
            task = bar.add_task("open subscriptions (memory)", total=options.open_subscriptions)
            catalog = await api.catalog(cycle="P1M", users=options.open_subscriptions)
            before = system.cpu.read()
            await open_subscriptions(api, catalog, progress=lambda n: bar.advance(task, n))
            signup_cpu = _per_period(_spent(before, system.cpu.read()), options.open_subscriptions)
            task = bar.add_task("voucher claims on one hot row", total=options.claims)
            claims = await claim_figures(
                api,
                claims=options.claims,
                concurrency=options.claim_concurrency,
                progress=lambda n: bar.advance(task, n),
            )
            task = bar.add_task("device states over MQTT", total=2050)
            mqtt = await mqtt_figures(
                database_url=system.database_url,
                mqtt_url=system.mqtt_url,
                prefix=Settings().mqtt_topic_prefix,
                progress=lambda n: bar.advance(task, n),
            )
    finally:
        await api.close()
    bare_p50 = percentile(bare_signup, 0.5)
    return {
        "timer_shift_ms": float(options.timer_shift_ms or 1000),
        "baseline_periods_per_s": statistics.mean(rates.baseline),
        "engine_periods_per_s": statistics.mean(rates.engine),
        "ratio": statistics.mean(rates.engine) / statistics.mean(rates.baseline),
        **{
            f"{figure}_round_{n + 1}": value
            for n, (b, e) in enumerate(zip(rates.baseline, rates.engine, strict=True))
            for figure, value in (
                ("ratio", e / b),
                ("baseline_periods_per_s", b),
                ("engine_periods_per_s", e),
            )
        },
        "signup_p50_ms": percentile(signups, 0.5),
        "signup_p95_ms": percentile(signups, 0.95),
        "signup_p99_ms": percentile(signups, 0.99),
        "bare_three_activity_p50_ms": bare_p50,
        "signup_ratio": percentile(signups, 0.5) / bare_p50,
        "worker_peak_rss_mb": system.worker_rss.peak_bytes / 2**20,
        "open_subscriptions": float(options.open_subscriptions + options.signup_samples),
        "history_events_per_period": events,
        # A run holds at most periods_per_run (12) periods plus signing and the hand-over.
        "history_events_per_run": events * 12 + 20,
        "claims_per_s": claims.claims_per_s,
        "api_claims_per_s": claims.api_claims_per_s,
        "raw_updates_per_s": claims.raw_updates_per_s,
        "claims_ratio": claims.claims_per_s / claims.raw_updates_per_s,
        "oversell": float(claims.oversell),
        # What the ratio would be if both phases were bound by CPU alone (on a fast machine the defaults
        # leave cores idle, and the 1 s cycle bounds both rates instead).
        "cpu_ratio": sum(rates.cpu_baseline.values()) / sum(rates.cpu_engine.values()),
        # The engine's periods less their signups (each costs what an open subscription's signup did):
        # what a renewal costs against a bare period.
        "cpu_ms_per_signup": sum(signup_cpu.values()),
        "renewal_cpu_ratio": sum(rates.cpu_baseline.values())
        / _renewal_ms(rates.cpu_engine, sum(signup_cpu.values()), options.periods),
        **{f"cpu_ms_per_period.baseline.{name}": ms for name, ms in rates.cpu_baseline.items()},
        **{f"cpu_ms_per_period.engine.{name}": ms for name, ms in rates.cpu_engine.items()},
        **{f"cpu_ms_per_signup.{name}": ms for name, ms in signup_cpu.items()},
        **{f"driver_cpu_ms_per_period.{phase}": ms for phase, ms in rates.driver_cpu.items()},
        **mqtt,
    }


@dataclass
class Rates:
    baseline: list[float]  # periods/s, one per round
    engine: list[float]
    contract_ids: list[str]  # the first engine run's subscriptions
    cpu_baseline: dict[str, float]  # CPU ms per period by component, over every round
    cpu_engine: dict[str, float]
    # The bench's own process, which drives the load on the same cores: not part of the system measured,
    # but what it takes from the system differs between the phases (HTTP signups against workflow starts).
    driver_cpu: dict[str, float]


async def _throughput(
    options: BenchOptions, system: System, client: Client, api: Api, bar: Progress
) -> Rates:
    """Baseline and engine in the order B E, E B, B E…: a machine that speeds up or slows down during the
    run weighs on both alike, and the ratio compares their means."""
    per_run = options.subscriptions * options.periods
    tasks = {
        "baseline": bar.add_task("baseline: bare workflows", total=per_run * options.rounds),
        "engine": bar.add_task("engine: subscriptions via the API", total=per_run * options.rounds),
    }
    if options.warmup_subscriptions > 0:
        await _warm_up(options.warmup_subscriptions, client, api, bar)
    rates: dict[str, list[float]] = {"baseline": [], "engine": []}
    cpu: dict[str, dict[str, float]] = {"baseline": {}, "engine": {}}
    driver = {"baseline": 0.0, "engine": 0.0}
    contract_ids: list[str] = []
    for round_ in range(options.rounds):
        for phase in ("baseline", "engine") if round_ % 2 == 0 else ("engine", "baseline"):
            advance = functools.partial(bar.advance, tasks[phase])
            if phase == "engine":
                # Products and devices are the engine's setting, not its work: made before the clock starts.
                catalog = await api.catalog(cycle="PT1S", users=options.subscriptions)
            before, driver_before = system.cpu.read(), time.process_time()
            if phase == "baseline":
                rate = await baseline_periods_per_s(
                    client,
                    subscriptions=options.subscriptions,
                    periods=options.periods,
                    progress=advance,
                )
            else:
                run = await engine_periods_per_s(
                    api, client, catalog, periods=options.periods, progress=advance
                )
                rate, contract_ids = run.periods_per_s, contract_ids or run.contract_ids
            rates[phase].append(rate)
            driver[phase] += time.process_time() - driver_before
            for name, spent in _spent(before, system.cpu.read()).items():
                cpu[phase][name] = cpu[phase].get(name, 0.0) + spent
    return Rates(
        baseline=rates["baseline"],
        engine=rates["engine"],
        contract_ids=contract_ids,
        cpu_baseline=_per_period(cpu["baseline"], per_run * options.rounds),
        cpu_engine=_per_period(cpu["engine"], per_run * options.rounds),
        driver_cpu=_per_period(driver, per_run * options.rounds),
    )


async def _warm_up(subscriptions: int, client: Client, api: Api, bar: Progress) -> None:
    """Two periods of each phase, unmeasured: the server, the workers and the database warm up alike."""
    periods = 2
    task = bar.add_task("warm-up (not measured)", total=2 * subscriptions * periods)
    advance = functools.partial(bar.advance, task)
    await baseline_periods_per_s(client, subscriptions=subscriptions, periods=periods, progress=advance)
    catalog = await api.catalog(cycle="PT1S", users=subscriptions)
    await engine_periods_per_s(api, client, catalog, periods=periods, progress=advance)


def _spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


def _renewal_ms(engine_ms: dict[str, float], signup_ms: float, periods: int) -> float:
    """CPU ms per renewal: a subscription's P periods cost one signup (its first period) and P - 1
    renewals."""
    return (sum(engine_ms.values()) * periods - signup_ms) / (periods - 1)


def _per_period(spent_s: dict[str, float], periods: int) -> dict[str, float]:
    """Milliseconds of CPU per period, by component (components idle in the phase are left out)."""
    per_period = {name: seconds * 1000 / periods for name, seconds in spent_s.items()}
    return {name: ms for name, ms in per_period.items() if ms >= 0.05}


def _exit_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(143)


def report(figures: dict[str, float], console: Console) -> None:
    table = Table(title="iot-billing bench")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target")
    for name, value in figures.items():
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            op, bound = target
            ok = {">=": value >= bound, "<=": value <= bound, "==": value == bound}[op]
            verdict = f"{op} {bound}  {'met' if ok else 'MISSED'}"
        table.add_row(name, f"{value:,.2f}", verdict)
    console.print(table)


def run_bench(options: BenchOptions, json_path: Path | None) -> None:
    console = Console()
    # SIGTERM unwinds like Ctrl-C, so the stack (its children run in sessions of their own) is stopped.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # The stack starts outside the event loop: its readiness probes run event loops of their own.
    with (
        tempfile.TemporaryDirectory(prefix="iot-billing-bench-") as tmp,
        running_system(
            Path(tmp),
            database_url=options.database_url,
            temporal_address=options.temporal_address,
            timer_shift_ms=options.timer_shift_ms,
        ) as system,
    ):
        console.print(f"stack up: API {system.api_url}, Temporal {system.temporal_address}")
        figures = asyncio.run(measure(options, system, console))
    report(figures, console)
    if json_path is not None:
        json_path.write_text(json.dumps(figures, indent=2) + "\n")
        console.print(f"figures written to {json_path}")
