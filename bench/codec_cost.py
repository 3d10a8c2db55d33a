"""What the payload codec (AES-GCM over every Temporal payload) costs: the bare workflow with it, as the
engine and the baseline always run, against the same workflow on a worker and client without it, at the
throughput load, in the order C P P C."""

from __future__ import annotations

import statistics
import sys

from bench.bare import BASELINE_TASK_QUEUE, PLAIN_TASK_QUEUE, TASK_QUEUE_ENV
from bench.options import Context
from bench.phases import baseline_periods_per_s
from bench.system import until_polling
from bench.throughput import per_period, spent
from infra.temporal import connect

PLAIN_WORKER = "plain-worker"


async def codec_cost(ctx: Context) -> dict[str, float]:
    system, options = ctx.system, ctx.options
    worker = system.spawn(
        PLAIN_WORKER,
        [sys.executable, "-m", "bench.worker"],
        env={"IOT_BILLING_PAYLOAD_KEYS": "", TASK_QUEUE_ENV: PLAIN_TASK_QUEUE},
    )
    # Its start-up (imports, connecting) must not weigh on the first measurement.
    await until_polling(system, worker, PLAIN_TASK_QUEUE)
    plain = await connect(system.temporal_address, codec=None)
    rates: dict[str, list[float]] = {"codec": [], "plain": []}
    cpu: dict[str, dict[str, float]] = {"codec": {}, "plain": {}}
    task = ctx.bar.add_task("payload codec: with, without", total=4 * ctx.load * options.periods)
    try:
        for kind in ("codec", "plain", "plain", "codec"):
            before = system.cpu.read()
            rate = await baseline_periods_per_s(
                ctx.client if kind == "codec" else plain,
                subscriptions=ctx.load,
                periods=options.periods,
                progress=lambda n: ctx.bar.advance(task, n),
                task_queue=PLAIN_TASK_QUEUE if kind == "plain" else BASELINE_TASK_QUEUE,
            )
            rates[kind].append(rate)
            for name, seconds in spent(before, system.cpu.read()).items():
                cpu[kind][name] = cpu[kind].get(name, 0.0) + seconds
    finally:
        system.stop(PLAIN_WORKER)
    periods = 2 * ctx.load * options.periods
    workers = {kind: per_period(cpu[kind], periods) for kind in cpu}
    codec, without = statistics.mean(rates["codec"]), statistics.mean(rates["plain"])
    return {
        "codec_periods_per_s": codec,
        "plain_periods_per_s": without,
        "codec_ratio": codec / without,
        "codec_cpu_ms_per_period": sum(workers["codec"].values()),
        "plain_cpu_ms_per_period": sum(workers["plain"].values()),
        **{f"cpu_ms_per_period.{kind}.{name}": ms for kind in workers for name, ms in workers[kind].items()},
    }
