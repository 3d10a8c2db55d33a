"""The platform's own cost, for comparison: bare workflows that do what the engine does per period (one
activity and a timer) or per signup (three activities), and nothing else."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from temporalio import activity, workflow

BASELINE_TASK_QUEUE = "iot-billing-bench-baseline"
# The same workflows on a worker (and client) without the payload codec: what encryption costs.
PLAIN_TASK_QUEUE = "iot-billing-bench-plain"
TASK_QUEUE_ENV = "IOT_BILLING_BENCH_TASK_QUEUE"
_TIMEOUT = timedelta(seconds=30)


class BareInput(BaseModel):
    periods: int
    cycle_seconds: float


class BurstInput(BaseModel):
    due_at: datetime  # when the second period is due: the same instant for every workflow of a burst


@activity.defn(name="bench_noop")
def noop(period: int) -> int:
    return period


@activity.defn(name="bench_clock")
def clock(period: int) -> float:
    """A period's work that also says when it ran (wall clock, as a charge's `paid_at` does)."""
    return time.time()


@workflow.defn(name="BenchBareSubscription")
class BareSubscriptionWorkflow:
    """One activity per period and a timer between periods: the floor under SubscriptionWorkflow."""

    @workflow.run
    async def run(self, input: BareInput) -> int:
        for period in range(input.periods):
            if period:
                await workflow.sleep(input.cycle_seconds)
            await workflow.execute_activity(noop, period, start_to_close_timeout=_TIMEOUT)
        return input.periods


@workflow.defn(name="BenchThreeActivities")
class ThreeActivityWorkflow:
    """A signup's shape without its work: three activities in a row, answered when the last is done."""

    @workflow.run
    async def run(self) -> int:
        for step in range(3):
            await workflow.execute_activity(noop, step, start_to_close_timeout=_TIMEOUT)
        return 3


@workflow.defn(name="BenchBareBurst")
class BareBurstWorkflow:
    """The month-start burst's floor: a first period now, the second due at one instant shared by every
    workflow of the burst; answers when the second period's activity ran."""

    @workflow.run
    async def run(self, input: BurstInput) -> float:
        await workflow.execute_activity(noop, 0, start_to_close_timeout=_TIMEOUT)
        wait = input.due_at.astimezone(UTC) - workflow.now()
        if wait > timedelta(0):
            await workflow.sleep(wait)
        ran: float = await workflow.execute_activity(clock, 1, start_to_close_timeout=_TIMEOUT)
        return ran
