"""Device states over MQTT, measured through the running stack's publisher: change committed → device
received (p50/p99), one change at a time, and states delivered per second for a burst of changes, against
a bare aiomqtt loop publishing payloads of the same size, retained at QoS 1, to the same broker
(`mqtt_ratio`). One subscriber in this process receives both, as devices would."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench.options import Context
from bench.phases import percentile
from events.wakeup import libpq_url
from infra.mqtt import MqttTarget, mqtt_client
from infra.settings import Settings
from models.device_state import device_state, device_topic

# One statement, as the engine writes a period: each device's entitlement and its event, whose trigger
# queues the device for the publisher.
_CHANGE = """
WITH changed AS (
    INSERT INTO entitlements (id, contract_id, device_id, resource_type, valid_from, valid_until, status)
    SELECT gen_random_uuid(), %(contract_id)s, d, 'cloud_video_storage', now(), %(until)s, %(status)s
    FROM unnest(%(ids)s::text[]) AS d
    ON CONFLICT ON CONSTRAINT uq_entitlements_contract_device DO UPDATE
    SET status = excluded.status, valid_until = excluded.valid_until, updated_at = now()
)
INSERT INTO events (id, type, user_id, data)
SELECT 'evt_' || md5(%(key)s || d), %(type)s, 'bench',
       jsonb_build_object('device_id', d, 'resource_type', 'cloud_video_storage')
FROM unnest(%(ids)s::text[]) AS d
"""


def change_entitlements(
    conn: psycopg.Connection[Any], *, contract_id: uuid.UUID, device_ids: list[str], status: str = "active"
) -> None:
    """Open (or revoke) an entitlement on each device, with its event, in the caller's transaction."""
    conn.execute(
        _CHANGE,
        {
            "contract_id": contract_id,
            "ids": device_ids,
            "status": status,
            "type": "entitlement.opened" if status == "active" else "entitlement.revoked",
            "until": datetime.now(UTC) + timedelta(days=30),
            "key": uuid.uuid4().hex,
        },
    )


class Receiver:
    """Records when each topic's first message arrives after `expect` names it."""

    def __init__(self) -> None:
        self.waiting: dict[str, float] = {}
        self.arrived: dict[str, float] = {}
        self.done = asyncio.Event()

    def expect(self, topics: list[str]) -> None:
        self.arrived.clear()
        self.waiting = dict.fromkeys(topics, 0.0)
        self.done.clear()

    def receive(self, topic: str) -> None:
        if topic in self.waiting and topic not in self.arrived:
            self.arrived[topic] = time.perf_counter()
            if len(self.arrived) == len(self.waiting):
                self.done.set()


async def mqtt_figures(
    *,
    database_url: str,
    mqtt_url: str,
    prefix: str,
    devices: int = 1000,
    samples: int = 50,
    progress: Callable[[int], None] = lambda _: None,
) -> dict[str, float]:
    target = MqttTarget.parse(mqtt_url)
    bare_prefix = f"{prefix}-bare-{uuid.uuid4().hex[:6]}"
    receiver = Receiver()
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        contract_id = _a_contract(conn)
        async with mqtt_client(target, max_inflight=1000) as listener:
            await listener.subscribe(device_topic(prefix, "+"), qos=1)
            await listener.subscribe(device_topic(bare_prefix, "+"), qos=1)
            listening = asyncio.create_task(_listen(listener, receiver))
            try:
                latencies = []
                sampled = [f"bench-{uuid.uuid4().hex[:10]}" for _ in range(samples)]
                for device in sampled:
                    receiver.expect([device_topic(prefix, device)])
                    change_entitlements(conn, contract_id=contract_id, device_ids=[device])
                    committed = time.perf_counter()
                    await asyncio.wait_for(receiver.done.wait(), timeout=30)
                    latencies.append((receiver.arrived[device_topic(prefix, device)] - committed) * 1000)
                    progress(1)
                burst = [f"bench-{uuid.uuid4().hex[:10]}" for _ in range(devices)]
                receiver.expect([device_topic(prefix, d) for d in burst])
                change_entitlements(conn, contract_id=contract_id, device_ids=burst)
                started = time.perf_counter()
                await asyncio.wait_for(receiver.done.wait(), timeout=300)
                engine_s = max(receiver.arrived.values()) - started
                progress(devices)
                bare_s = await _bare_loop(mqtt_url, bare_prefix, burst, contract_id, receiver)
                progress(devices)
            finally:
                listening.cancel()
                await asyncio.gather(listening, return_exceptions=True)
        await _clear(target, bare_prefix, burst)
        await _clear(target, prefix, [*burst, *sampled])
    engine_rate, bare_rate = devices / engine_s, devices / bare_s
    return {
        "mqtt_change_to_device_p50_ms": percentile(latencies, 0.5),
        "mqtt_change_to_device_p99_ms": percentile(latencies, 0.99),
        "mqtt_publishes_per_s": engine_rate,
        "mqtt_bare_publishes_per_s": bare_rate,
        "mqtt_ratio": engine_rate / bare_rate,
    }


async def _listen(client: Any, receiver: Receiver) -> None:
    async for message in client.messages:
        receiver.receive(message.topic.value)


async def _bare_loop(
    url: str, prefix: str, device_ids: list[str], contract_id: uuid.UUID, receiver: Receiver
) -> float:
    """The same number of states of the same shape, published as fast as one client can, from a process
    of its own as the publisher is: the subscriber here shares no CPU with either."""
    receiver.expect([device_topic(prefix, d) for d in device_ids])
    loop = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.mqtt", prefix, str(contract_id),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert loop.stdin is not None and loop.stdout is not None
    # The URL on stdin, not in the arguments: it may carry a password.
    loop.stdin.write(("\n".join([url, *device_ids]) + "\n\n").encode())
    await loop.stdin.drain()
    if (await loop.stdout.readline()).strip() != b"ready":
        raise RuntimeError("the bare publish loop did not start")
    started = time.perf_counter()
    loop.stdin.write(b"go\n")
    await loop.stdin.drain()
    await asyncio.wait_for(receiver.done.wait(), timeout=300)
    await loop.wait()
    return max(receiver.arrived.values()) - started


async def _publish_bare(prefix: str, contract_id: uuid.UUID) -> None:
    """The bare loop's process: read the URL and device ids, connect, say ready, publish all on `go`."""
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    url = (await reader.readline()).decode().strip()
    device_ids = []
    while line := (await reader.readline()).decode().strip():
        device_ids.append(line)
    now = datetime.now(UTC)
    payloads = [
        device_state(
            device_id=d,
            version=1,
            updated_at=now,
            rows=[(contract_id, "cloud_video_storage", "active", now + timedelta(days=30))],
        ).model_dump_json()
        for d in device_ids
    ]
    async with mqtt_client(MqttTarget.parse(url), max_inflight=1000) as client:
        print("ready", flush=True)
        await reader.readline()
        await asyncio.gather(
            *(
                client.publish(device_topic(prefix, d), p, qos=1, retain=True)
                for d, p in zip(device_ids, payloads, strict=True)
            )
        )


async def _clear(target: MqttTarget, prefix: str, device_ids: list[str]) -> None:
    """The bench's devices are not real ones: delete their retained messages from the broker."""
    async with mqtt_client(target, max_inflight=1000) as client:
        await asyncio.gather(
            *(client.publish(device_topic(prefix, d), b"", qos=1, retain=True) for d in device_ids)
        )


def _a_contract(conn: psycopg.Connection[Any]) -> uuid.UUID:
    """Entitlements belong to a contract: any of the bench's will do."""
    row = conn.execute("SELECT id FROM contracts ORDER BY created_at LIMIT 1").fetchone()
    if row is None:
        raise RuntimeError("the MQTT figures need a contract; the throughput phase makes them")
    contract_id: uuid.UUID = row[0]
    return contract_id


if __name__ == "__main__":
    asyncio.run(_publish_bare(sys.argv[1], uuid.UUID(sys.argv[2])))


async def mqtt_phase(ctx: Context) -> dict[str, float]:
    """Device states through the stack's own publisher and broker."""
    task = ctx.bar.add_task("device states over MQTT", total=2050)
    return await mqtt_figures(
        database_url=ctx.system.database_url,
        mqtt_url=ctx.system.mqtt_url,
        prefix=Settings().mqtt_topic_prefix,
        progress=lambda n: ctx.bar.advance(task, n),
    )
