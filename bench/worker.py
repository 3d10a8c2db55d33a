"""`python -m bench.worker`: the baseline's worker process, with the same thread pool, concurrency and
sandbox settings as the engine's worker, so the two measure the same platform. Its task queue is the
baseline's unless IOT_BILLING_BENCH_TASK_QUEUE names another (the codec phase's worker without a codec)."""

from __future__ import annotations

import asyncio
import os
import signal
from concurrent.futures import ThreadPoolExecutor

from temporalio.worker import Worker

from bench.bare import (
    BASELINE_TASK_QUEUE,
    TASK_QUEUE_ENV,
    BareBurstWorkflow,
    BareSubscriptionWorkflow,
    ThreeActivityWorkflow,
    clock,
    noop,
)
from infra.heap import freeze_startup_heap
from infra.settings import Settings
from infra.temporal import cache_workflow_bytecode, connect
from infra.workflow_runner import workflow_runner
from workers.main import ACTIVITY_THREADS


async def main() -> None:
    settings = Settings()
    cache_workflow_bytecode("bench")  # as the engine's worker does
    client = await connect(
        settings.temporal_address, settings.temporal_namespace, codec=settings.payload_codec()
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        worker = Worker(
            client,
            task_queue=os.environ.get(TASK_QUEUE_ENV, BASELINE_TASK_QUEUE),
            workflows=[BareSubscriptionWorkflow, ThreeActivityWorkflow, BareBurstWorkflow],
            activities=[noop, clock],
            activity_executor=executor,
            max_concurrent_activities=ACTIVITY_THREADS,
            workflow_runner=workflow_runner(client.data_converter),
        )
        freeze_startup_heap()  # as the engine's worker does
        async with worker:
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
