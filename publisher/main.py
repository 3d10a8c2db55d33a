"""The publisher process: take queued devices in batches, publish each one's state retained at QoS 1,
and commit once the broker acknowledged them all. A broker away means waiting and reconnecting with
backoff; whatever was not acknowledged stays queued in the database and goes out after."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass
from typing import Any, Literal

import aiomqtt
import psycopg
import structlog

from devices.queue import Batch, finish_batch, queue_devices, take_batch
from events.wakeup import QUEUED_DEVICE_CHANGES, libpq_url, wait_for_wake, watch_for_work
from infra.logging import configure_logging
from infra.mqtt import mqtt_client
from infra.settings import Settings
from models.device_state import DeviceState, device_topic

log = structlog.get_logger(__name__)

DATABASE_RETRY_SECONDS = 1.0
# A device skipped because another copy holds it is looked at again this soon.
SKIPPED_RETRY_SECONDS = 0.05


class BrokerUnavailable(Exception):
    pass


@dataclass(frozen=True)
class Round:
    published: int = 0
    skipped: int = 0
    full: bool = False


class Lane:
    """One database connection and one batch at a time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.conn: psycopg.AsyncConnection[Any] | None = None

    async def round(self, client: aiomqtt.Client) -> Round:
        try:
            if self.conn is None or self.conn.closed:
                self.conn = await psycopg.AsyncConnection.connect(
                    libpq_url(self.settings.database_url), autocommit=True
                )
            async with self.conn.transaction():
                batch = await take_batch(self.conn, limit=self.settings.publisher_batch)
                if batch.states:
                    await self._publish(client, batch)
                    await finish_batch(self.conn, batch)
        except psycopg.Error as error:
            log.warning("database unavailable; trying again", error=str(error))
            await self.close()
            await asyncio.sleep(DATABASE_RETRY_SECONDS)
            return Round()
        if batch.states:
            log.info(
                "published",
                devices=len(batch.states),
                versions=f"{min(s.version for s in batch.states)}..{max(s.version for s in batch.states)}",
            )
        full = batch.picked >= self.settings.publisher_batch
        return Round(published=len(batch.states), skipped=batch.skipped, full=full)

    async def _publish(self, client: aiomqtt.Client, batch: Batch) -> None:
        prefix, timeout = self.settings.mqtt_topic_prefix, self.settings.mqtt_publish_timeout_seconds
        try:
            await asyncio.gather(
                *(publish_state(client, prefix, s, ack_within=timeout) for s in batch.states)
            )
        except aiomqtt.MqttError as error:
            # Raised out of the transaction, which rolls back: the devices stay queued.
            raise BrokerUnavailable(str(error)) from error

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()
            self.conn = None


async def publish_state(
    client: aiomqtt.Client, prefix: str, state: DeviceState, *, ack_within: float
) -> None:
    """Retained, QoS 1: returns once the broker acknowledged it."""
    await client.publish(
        device_topic(prefix, state.device_id),
        state.model_dump_json(),
        qos=1,
        retain=True,
        timeout=ack_within,
    )


class Publisher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.wake = asyncio.Event()
        self.lanes = [Lane(settings) for _ in range(settings.publisher_concurrency)]
        self.published = 0

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.settings
        listener = asyncio.create_task(
            watch_for_work(
                settings.database_url,
                self.wake,
                probe=QUEUED_DEVICE_CHANGES,
                every=settings.wake_probe_seconds,
            )
        )
        stopping = asyncio.create_task(stop.wait())
        delay = settings.mqtt_reconnect_first_seconds
        target = settings.mqtt_target()
        try:
            while not stop.is_set():
                try:
                    async with self._client() as client:
                        log.info("connected to the broker", broker=target.display)
                        delay = settings.mqtt_reconnect_first_seconds
                        await self._serve(client, stop, stopping)
                except (aiomqtt.MqttError, BrokerUnavailable) as error:
                    log.warning("broker unavailable; reconnecting", error=str(error), retry_in=delay)
                    await asyncio.wait({stopping}, timeout=delay)
                    delay = min(delay * 2, settings.mqtt_reconnect_max_seconds)
        finally:
            stopping.cancel()
            listener.cancel()
            await asyncio.gather(listener, stopping, return_exceptions=True)
            for lane in self.lanes:
                await lane.close()

    async def drain(self) -> int:
        """Publish until nothing is queued that this copy could take; how many states it published."""
        async with self._client() as client:
            while True:
                rounds = await self._rounds(client)
                if not any(r.published or r.skipped for r in rounds):
                    break
                if not any(r.published for r in rounds):
                    await asyncio.sleep(SKIPPED_RETRY_SECONDS)
        for lane in self.lanes:
            await lane.close()
        return self.published

    def _client(self) -> aiomqtt.Client:
        settings = self.settings
        return mqtt_client(
            settings.mqtt_target(),
            ca_file=settings.mqtt_ca_file,
            timeout=settings.mqtt_publish_timeout_seconds,
            max_inflight=max(20, settings.publisher_batch),
        )

    async def _serve(
        self, client: aiomqtt.Client, stop: asyncio.Event, stopping: asyncio.Task[Literal[True]]
    ) -> None:
        while not stop.is_set():
            self.wake.clear()
            rounds = await self._rounds(client)
            if any(r.full for r in rounds):
                continue
            if any(r.skipped for r in rounds):
                await asyncio.wait({stopping}, timeout=SKIPPED_RETRY_SECONDS)
                continue
            await wait_for_wake(self.wake, stopping, poll_seconds=self.settings.publisher_poll_seconds)

    async def _rounds(self, client: aiomqtt.Client) -> list[Round]:
        rounds = await asyncio.gather(*(lane.round(client) for lane in self.lanes), return_exceptions=True)
        # Every lane has finished (committed or rolled back) before a broker failure is raised.
        for outcome in rounds:
            if isinstance(outcome, BaseException):
                raise outcome
        done = [r for r in rounds if isinstance(r, Round)]
        self.published += sum(r.published for r in done)
        return done


async def run_publisher(settings: Settings, *, republish_all: bool = False) -> None:
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    if republish_all:
        async with await psycopg.AsyncConnection.connect(
            libpq_url(settings.database_url), autocommit=True
        ) as conn:
            log.info("queued every device again", devices=await queue_devices(conn))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "publisher started",
        broker=settings.mqtt_target().display,
        topics=device_topic(settings.mqtt_topic_prefix, "+"),
    )
    try:
        await Publisher(settings).run(stop)
    finally:
        log.info("publisher stopped")
