"""`iot-billing bench`: every figure of DESIGN.md section 7 in one run, on the same servers and worker
settings, printed as a table (and JSON with --json)."""

from __future__ import annotations

import asyncio
import json
import signal
import tempfile
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.burst import burst
from bench.claims import claims_phase
from bench.codec_cost import codec_cost
from bench.events import events_figures
from bench.mqtt import mqtt_phase
from bench.options import PHASES, BenchOptions, Context, Phase
from bench.phases import Api
from bench.scale import open_many, signups
from bench.system import System, running_system
from bench.throughput import choose_load, throughput
from infra.codec import codec_for
from infra.temporal import connect

TARGETS = {
    "ratio": (">=", 1.0),
    "events_on_ratio": (">=", 1.0),
    "burst_ratio": (">=", 1.0),
    "signup_ratio": ("<=", 1.5),
    "signup_cpu_in_bare_periods": ("<=", 3.0),
    "claims_ratio": (">=", 0.6),
    "api_claims_ratio": (">=", 0.6),
    "oversell": ("==", 0),
    "events_ratio": (">=", 0.7),
    "delivery_p99_s": ("<=", 1.0),
    "worker_peak_rss_mb": ("<=", 300),
    "history_events_per_run": ("<=", 2000),
    "mqtt_ratio": (">=", 0.7),
}

# Each phase returns its figures; the load search runs first when any of these is chosen.
NEEDS_LOAD = frozenset({"throughput", "events", "codec"})
RUNNERS: dict[str, Phase] = {
    "throughput": throughput,
    "events": events_figures,
    "codec": codec_cost,
    "burst": burst,
    "signup": signups,
    "memory": open_many,
    "claims": claims_phase,
    "mqtt": mqtt_phase,
}


async def measure(options: BenchOptions, system: System, console: Console) -> dict[str, float]:
    client = await connect(system.temporal_address, codec=codec_for(system.payload_keys))
    api = Api(system)
    figures: dict[str, float] = {}
    try:
        with Progress(
            TextColumn("{task.description:<40}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            ctx = Context(options=options, system=system, client=client, api=api, bar=bar)
            if NEEDS_LOAD & set(options.phases):
                figures.update(await choose_load(ctx))
            for name in PHASES:
                if name in options.phases:
                    figures.update(await RUNNERS[name](ctx))
    finally:
        await api.close()
    figures.update(_renewal_cpu(figures, options.periods))
    return figures


def _renewal_cpu(figures: dict[str, float], periods: int) -> dict[str, float]:
    """What a renewal and a signup cost against a bare period: the engine's periods less their signups
    (each costs what an open subscription's signup did), when both phases ran."""
    baseline = [v for k, v in figures.items() if k.startswith("cpu_ms_per_period.baseline.")]
    engine = [v for k, v in figures.items() if k.startswith("cpu_ms_per_period.engine.")]
    if not baseline or not engine or "cpu_ms_per_signup" not in figures:
        return {}
    signup = figures["cpu_ms_per_signup"]
    renewal = (sum(engine) * periods - signup) / (periods - 1)
    return {
        "renewal_cpu_ratio": sum(baseline) / renewal,
        "signup_cpu_in_bare_periods": signup / sum(baseline),
    }


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
            persist_temporal=options.persist_temporal,
        ) as system,
    ):
        console.print(f"stack up: API {system.api_url}, Temporal {system.temporal_address}")
        figures = asyncio.run(measure(options, system, console))
    report(figures, console)
    if json_path is not None:
        json_path.write_text(json.dumps(figures, indent=2) + "\n")
        console.print(f"figures written to {json_path}")
