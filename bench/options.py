"""What a bench run measures and how hard: the options every phase reads, and what a phase is given."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from rich.progress import Progress
from temporalio.client import Client

from bench.phases import Api
from bench.system import System

# In the order they run. A phase reads the load the throughput search chose when it needs one.
PHASES = ("throughput", "events", "codec", "burst", "signup", "memory", "claims", "mqtt")


@dataclass(frozen=True)
class BenchOptions:
    phases: tuple[str, ...] = PHASES
    # The throughput phases' load; None: doubled from `saturation_start` until the baseline saturates.
    subscriptions: int | None = None
    saturation_start: int = 100
    saturation_ceiling: int = 3200
    periods: int = 5
    signup_samples: int = 20
    open_subscriptions: int = 300
    # Signups timed as a rate on an empty system and again once the open subscriptions are open.
    signup_rate_samples: int = 100
    claims: int = 600
    claim_concurrency: int = 32
    rounds: int = 2  # of baseline and engine, in the order B E, E B, …
    # Both phases once, small and unmeasured, before the first round: a cold server made the first
    # round's baseline the slowest phase of the run.
    warmup_subscriptions: int = 20
    burst: int = 1000  # subscriptions (and bare workflows) due at one instant
    # How far ahead the dev server's timer queue reads; None keeps its default (1 s). See docs/benchmarks.md.
    timer_shift_ms: int | None = None
    # Keep the dev server's database in a file, so its bytes per subscription can be read.
    persist_temporal: bool = False
    database_url: str | None = None
    temporal_address: str | None = None


@dataclass
class Context:
    """What every phase works with: one stack, one Temporal client, one API client, one progress display."""

    options: BenchOptions
    system: System
    client: Client
    api: Api
    bar: Progress
    load: int = 0  # the throughput load chosen (0 until chosen)
    # Contracts of the first engine run, for the history-size figure.
    contract_ids: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.bar.console.print(text)


Phase = Callable[[Context], Awaitable[dict[str, float]]]
