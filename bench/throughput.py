"""Periods per second, the engine's against the bare workflow's, at a load that saturates the baseline;
where each period's CPU goes; and how big a subscription's history grows."""

from __future__ import annotations

import functools
import statistics
import time
from dataclasses import dataclass

from bench.bare import BASELINE_TASK_QUEUE
from bench.options import Context
from bench.phases import (
    Progress,
    baseline_periods_per_s,
    engine_periods_per_s,
    history_events_per_period,
)
from bench.saturation import find_saturating_load, timer_bound

CYCLE_SECONDS = 1.0


async def choose_load(ctx: Context) -> dict[str, float]:
    """The throughput load: as given, or doubled until the baseline's rate rises by less than 10 %."""
    options = ctx.options
    figures: dict[str, float] = {}
    if options.warmup_subscriptions > 0:
        await _warm_up(ctx, options.warmup_subscriptions)
    if options.subscriptions is not None:
        ctx.load = options.subscriptions
        ctx.note(f"load: {ctx.load} subscriptions (given)")
        figures["load_subscriptions"] = float(ctx.load)
        return figures
    task = ctx.bar.add_task("load search: baseline doubling", total=None)

    async def measure(load: int) -> float:
        rate = await baseline_periods_per_s(
            ctx.client, subscriptions=load, periods=options.periods, progress=lambda _: None
        )
        ctx.bar.update(task, description=f"load search: {load} at {rate:,.0f}/s")
        return rate

    found = await find_saturating_load(
        measure, start=options.saturation_start, ceiling=options.saturation_ceiling
    )
    ctx.bar.update(task, total=1, completed=1)
    ctx.load = found.load
    steps = ", ".join(f"{step.load}: {step.rate:,.1f}/s" for step in found.steps)
    if found.saturated:
        ctx.note(f"load: {found.load} subscriptions (baseline saturated; {steps})")
    else:
        ctx.note(
            f"[yellow]warning:[/] the baseline still rose at {found.load} subscriptions, the search's "
            f"ceiling ({steps}); its figures may be bound by timers, not by the machine"
        )
    figures["load_subscriptions"] = float(found.load)
    figures["load_saturated"] = float(found.saturated)
    figures.update({f"load_search_periods_per_s_at_{step.load}": step.rate for step in found.steps})
    return figures


async def throughput(ctx: Context) -> dict[str, float]:
    options = ctx.options
    rates = await _rounds(ctx)
    baseline, engine = statistics.mean(rates.baseline), statistics.mean(rates.engine)
    bound = [
        phase
        for phase, rate in (("baseline", baseline), ("engine", engine))
        if timer_bound(rate, subscriptions=ctx.load, periods=options.periods, cycle_seconds=CYCLE_SECONDS)
    ]
    if bound:
        ctx.note(
            f"[yellow]warning:[/] {' and '.join(bound)} ran near the {CYCLE_SECONDS:g} s timers' ceiling at "
            f"{ctx.load} subscriptions: the ratio measures latency, not capacity (raise --subscriptions)"
        )
    events = await history_events_per_period(ctx.client, ctx.system.database_url, ctx.contract_ids)
    return {
        "timer_shift_ms": float(options.timer_shift_ms or 1000),
        "timer_bound": float(bool(bound)),
        "baseline_periods_per_s": baseline,
        "engine_periods_per_s": engine,
        "ratio": engine / baseline,
        **{
            f"{figure}_round_{n + 1}": value
            for n, (b, e) in enumerate(zip(rates.baseline, rates.engine, strict=True))
            for figure, value in (
                ("ratio", e / b),
                ("baseline_periods_per_s", b),
                ("engine_periods_per_s", e),
            )
        },
        # What the ratio would be if both phases were bound by CPU alone.
        "cpu_ratio": sum(rates.cpu_baseline.values()) / sum(rates.cpu_engine.values()),
        **{f"cpu_ms_per_period.baseline.{name}": ms for name, ms in rates.cpu_baseline.items()},
        **{f"cpu_ms_per_period.engine.{name}": ms for name, ms in rates.cpu_engine.items()},
        **{f"driver_cpu_ms_per_period.{phase}": ms for phase, ms in rates.driver_cpu.items()},
        "history_events_per_period": events,
        # A run holds at most periods_per_run (12) periods plus signing and the hand-over.
        "history_events_per_run": events * 12 + 20,
    }


@dataclass
class Rates:
    baseline: list[float]  # periods/s, one per round
    engine: list[float]
    cpu_baseline: dict[str, float]  # CPU ms per period by component, over every round
    cpu_engine: dict[str, float]
    # The bench's own process, which drives the load on the same cores: not part of the system measured,
    # but what it takes from the system differs between the phases (HTTP signups against workflow starts).
    driver_cpu: dict[str, float]


async def one_phase(
    ctx: Context, phase: str, *, advance: Progress | None = None
) -> tuple[float, dict[str, float], float]:
    """One baseline or engine run at the chosen load: its periods/s, CPU seconds by component, and the
    bench's own CPU seconds."""
    options, system = ctx.options, ctx.system
    progress = advance or (lambda _: None)
    if phase == "engine":
        # Products and devices are the engine's setting, not its work: made before the clock starts.
        catalog = await ctx.api.catalog(cycle="PT1S", users=ctx.load)
    before, driver_before = system.cpu.read(), time.process_time()
    if phase == "engine":
        run = await engine_periods_per_s(
            ctx.api, ctx.client, catalog, periods=options.periods, progress=progress
        )
        rate = run.periods_per_s
        ctx.contract_ids = ctx.contract_ids or run.contract_ids
    else:
        rate = await baseline_periods_per_s(
            ctx.client,
            subscriptions=ctx.load,
            periods=options.periods,
            progress=progress,
            task_queue=BASELINE_TASK_QUEUE,
        )
    return rate, spent(before, system.cpu.read()), time.process_time() - driver_before


async def _rounds(ctx: Context) -> Rates:
    """Baseline and engine in the order B E, E B, B E…: a machine that speeds up or slows down during the
    run weighs on both alike, and the ratio compares their means."""
    options = ctx.options
    per_run = ctx.load * options.periods
    tasks = {
        "baseline": ctx.bar.add_task("baseline: bare workflows", total=per_run * options.rounds),
        "engine": ctx.bar.add_task("engine: subscriptions via the API", total=per_run * options.rounds),
    }
    rates: dict[str, list[float]] = {"baseline": [], "engine": []}
    cpu: dict[str, dict[str, float]] = {"baseline": {}, "engine": {}}
    driver = {"baseline": 0.0, "engine": 0.0}
    for round_ in range(options.rounds):
        for phase in ("baseline", "engine") if round_ % 2 == 0 else ("engine", "baseline"):
            advance = functools.partial(ctx.bar.advance, tasks[phase])
            rate, used, own = await one_phase(ctx, phase, advance=advance)
            rates[phase].append(rate)
            driver[phase] += own
            for name, seconds in used.items():
                cpu[phase][name] = cpu[phase].get(name, 0.0) + seconds
    return Rates(
        baseline=rates["baseline"],
        engine=rates["engine"],
        cpu_baseline=per_period(cpu["baseline"], per_run * options.rounds),
        cpu_engine=per_period(cpu["engine"], per_run * options.rounds),
        driver_cpu=per_period(driver, per_run * options.rounds),
    )


async def _warm_up(ctx: Context, subscriptions: int) -> None:
    """Two periods of each phase, unmeasured: the server, the workers and the database warm up alike."""
    periods = 2
    task = ctx.bar.add_task("warm-up (not measured)", total=2 * subscriptions * periods)
    advance = functools.partial(ctx.bar.advance, task)
    await baseline_periods_per_s(ctx.client, subscriptions=subscriptions, periods=periods, progress=advance)
    catalog = await ctx.api.catalog(cycle="PT1S", users=subscriptions)
    await engine_periods_per_s(ctx.api, ctx.client, catalog, periods=periods, progress=advance)


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


def per_period(spent_s: dict[str, float], periods: int) -> dict[str, float]:
    """Milliseconds of CPU per period, by component (components idle in the phase are left out)."""
    ms = {name: seconds * 1000 / periods for name, seconds in spent_s.items()}
    return {name: value for name, value in ms.items() if value >= 0.05}
