"""The platform's own cost, for comparison: bare workflows that do what the engine does per period (one
activity and a timer) or per signup (three activities), and nothing else."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow

BASELINE_TASK_QUEUE = "iot-billing-bench-baseline"
_TIMEOUT = timedelta(seconds=30)


class BareInput(BaseModel):
    periods: int
    cycle_seconds: float


@activity.defn(name="bench_noop")
def noop(period: int) -> int:
    return period


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
