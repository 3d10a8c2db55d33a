"""The dispatcher process: plan deliveries for new events, claim due ones, send them concurrently, record
each outcome; on SIGTERM stop claiming and let the sends in flight finish."""

from __future__ import annotations

import asyncio
import random
import signal

import httpx
import structlog
from prometheus_client import REGISTRY
from sqlalchemy.exc import DBAPIError

from dispatcher.metrics import count_delivery, outbox_lag_gauge
from dispatcher.planner import plan_deliveries
from dispatcher.queue import Claim, Outcome, claim_due, record_outcome
from dispatcher.sender import send
from events.wakeup import UNDISPATCHED_EVENTS, wait_for_wake, watch_for_work
from infra.db import SessionFactory, make_engine, make_session_factory
from infra.logging import configure_logging
from infra.metrics import serve_metrics
from infra.settings import Settings
from infra.tracing import otlp_tracing
from webhooks.backoff import next_wait

log = structlog.get_logger(__name__)

PLAN_BATCH = 500
# Beyond the send's own time limit, how long a claim stays with its copy before another may take it.
LEASE_MARGIN_SECONDS = 5.0
RECORD_RETRY_SECONDS = 1.0
RECORD_TRIES = 30


class Dispatcher:
    def __init__(self, settings: Settings, sessions: SessionFactory, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.sessions = sessions
        self.client = client
        self.wake = asyncio.Event()
        self.in_flight: set[asyncio.Task[None]] = set()
        self.rng = random.Random()

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.settings
        listener = asyncio.create_task(
            watch_for_work(
                settings.database_url, self.wake, probe=UNDISPATCHED_EVENTS, every=settings.wake_probe_seconds
            )
        )
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                self.wake.clear()
                busy = await self._round()
                if busy:
                    continue
                await wait_for_wake(self.wake, stopping, poll_seconds=settings.dispatcher_poll_seconds)
            if self.in_flight:
                log.info("finishing deliveries in flight", count=len(self.in_flight))
                await asyncio.gather(*self.in_flight, return_exceptions=True)
        finally:
            stopping.cancel()
            listener.cancel()
            await asyncio.gather(listener, stopping, return_exceptions=True)

    async def _round(self) -> bool:
        """Plan and claim once; True when there may be more work at once."""
        free = self.settings.dispatcher_concurrency - len(self.in_flight)
        try:
            planned = await asyncio.to_thread(plan_deliveries, self.sessions, batch=PLAN_BATCH)
            claims = []
            if free > 0:
                lease = self.settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS
                claims = await asyncio.to_thread(claim_due, self.sessions, limit=free, lease_seconds=lease)
        except DBAPIError as error:
            log.warning("database unavailable; trying again", error=str(error.orig or error))
            return False
        for claim in claims:
            task = asyncio.create_task(self._deliver(claim))
            self.in_flight.add(task)
            task.add_done_callback(self._finished)
        return planned == PLAN_BATCH or (free > 0 and len(claims) == free)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The delivery's lease lapses and it is sent again; say why it failed here.
            log.error("delivery failed unexpectedly", exc_info=task.exception())
        # A freed slot, or the next event of the same subscription, may be claimable now.
        self.wake.set()

    async def _deliver(self, claim: Claim) -> None:
        settings = self.settings
        outcome = await send(
            self.client,
            claim,
            time_limit=settings.webhook_timeout_seconds,
            cap=settings.webhook_response_cap_bytes,
            allow_private=settings.webhook_allow_private,
        )
        retry_in = None
        if not outcome.delivered:
            retry_in = next_wait(
                failed_attempts=claim.attempts + 1,
                schedule=settings.webhook_retry_schedule_seconds,
                jitter=settings.webhook_retry_jitter,
                rng=self.rng,
            )
        await self._record(claim, outcome, retry_in)

    async def _record(self, claim: Claim, outcome: Outcome, retry_in: float | None) -> None:
        # A database outage must not lose the outcome; if it outlasts the tries, the lease runs out and
        # the delivery is sent again (at least once).
        for _ in range(RECORD_TRIES):
            try:
                next_at = await asyncio.to_thread(
                    record_outcome, self.sessions, claim=claim, outcome=outcome, retry_in=retry_in
                )
                break
            except DBAPIError as error:
                log.warning("could not record a delivery; trying again", error=str(error.orig or error))
                await asyncio.sleep(RECORD_RETRY_SECONDS)
        else:
            return
        count_delivery(claim, outcome, retrying=next_at is not None)
        log.info(
            "delivered" if outcome.delivered else ("retry scheduled" if next_at else "gave up"),
            event_id=claim.envelope.id,
            event_type=claim.envelope.type,
            endpoint_id=str(claim.endpoint_id),
            attempt=claim.attempts + 1,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            error=outcome.error,
            next_retry_at=next_at.isoformat() if next_at else None,
        )


def http_client(settings: Settings) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=settings.dispatcher_concurrency)
    return httpx.AsyncClient(
        timeout=settings.webhook_timeout_seconds, follow_redirects=False, limits=limits, trust_env=False
    )


async def run_dispatcher(settings: Settings) -> None:
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    tracing = otlp_tracing(settings.otel_exporter_otlp_endpoint, service="iot-billing-dispatcher")
    if tracing is not None:
        tracing.instrument_clients()
    engine = make_engine(settings.database_url, pool_size=min(settings.db_pool_size, 10))
    REGISTRY.register(outbox_lag_gauge(engine))
    metrics = serve_metrics(settings.dispatcher_metrics_port, host=settings.metrics_host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "dispatcher started",
        concurrency=settings.dispatcher_concurrency,
        metrics_port=metrics.server_port if metrics else None,
    )
    try:
        async with http_client(settings) as client:
            await Dispatcher(settings, make_session_factory(engine), client).run(stop)
    finally:
        engine.dispose()
        if tracing is not None:
            tracing.shutdown()
        log.info("dispatcher stopped")
