"""The worker process: one client, the subscription workflow and its activities, graceful shutdown."""

from __future__ import annotations

import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import structlog
from prometheus_client import REGISTRY
from temporalio.client import Client
from temporalio.worker import Worker

from activities.billing import BillingActivities
from activities.vouchers import VoucherActivities
from gateway.http_client import HttpPaymentGateway
from infra.db import make_engine, make_session_factory
from infra.heap import freeze_startup_heap
from infra.logging import configure_logging
from infra.metrics import serve_metrics
from infra.settings import Settings
from infra.temporal import cache_workflow_bytecode, connect, metrics_runtime
from infra.tracing import otlp_tracing
from infra.workflow_runner import workflow_runner
from workers.subscription_gauge import subscriptions_gauge
from workflows.subscription import SubscriptionWorkflow
from workflows.voucher_lifecycle import VoucherLifecycleWorkflow

log = structlog.get_logger(__name__)

WORKFLOWS: list[type] = [SubscriptionWorkflow, VoucherLifecycleWorkflow]
# Activities are blocking (database, gateway): one thread each, as many as may run at once.
ACTIVITY_THREADS = 64


def build_worker(
    client: Client,
    *,
    task_queue: str,
    activities: BillingActivities,
    executor: ThreadPoolExecutor,
    voucher_activities: VoucherActivities | None = None,
    max_cached_workflows: int = 500,
    max_concurrent_activities: int = ACTIVITY_THREADS,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=activities.all() + (voucher_activities.all() if voucher_activities else []),
        activity_executor=executor,
        max_concurrent_activities=max_concurrent_activities,
        max_cached_workflows=max_cached_workflows,
        workflow_runner=workflow_runner(client.data_converter),
        # Let in-flight activities finish (they are short) before the process exits.
        graceful_shutdown_timeout=timedelta(seconds=20),
    )


async def run_worker(settings: Settings) -> None:
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    cache_workflow_bytecode("workflows")
    tracing = otlp_tracing(settings.otel_exporter_otlp_endpoint, service="iot-billing-worker")
    if tracing is not None:
        tracing.instrument_clients()
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    gateway = HttpPaymentGateway(settings.gateway_url, timeout_seconds=settings.gateway_timeout_seconds)
    sdk_metrics = settings.worker_sdk_metrics_port
    client = await connect(
        settings.temporal_address,
        settings.temporal_namespace,
        codec=settings.payload_codec(),
        runtime=metrics_runtime(None if sdk_metrics is None else f"{settings.metrics_host}:{sdk_metrics}"),
        interceptors=tracing.interceptors() if tracing is not None else (),
    )
    REGISTRY.register(subscriptions_gauge(engine))
    metrics = serve_metrics(settings.worker_metrics_port, host=settings.metrics_host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS, thread_name_prefix="activity") as executor:
        sessions = make_session_factory(engine)
        worker = build_worker(
            client,
            task_queue=settings.task_queue,
            activities=BillingActivities(sessions, gateway),
            voucher_activities=VoucherActivities(sessions),
            max_cached_workflows=settings.max_cached_workflows,
            executor=executor,
        )
        frozen = freeze_startup_heap()
        log.info(
            "worker started",
            task_queue=settings.task_queue,
            temporal=settings.temporal_address,
            frozen_objects=frozen,
            metrics_port=metrics.server_port if metrics else None,
            sdk_metrics_port=sdk_metrics,
        )
        async with worker:
            await stop.wait()
            log.info("worker stopping: finishing in-flight tasks")
    gateway.close()
    engine.dispose()
    if tracing is not None:
        tracing.shutdown()
    log.info("worker stopped")
