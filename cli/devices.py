"""The device commands: the simulator's process around `cli.device`, and `republish-devices`."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence

import aiomqtt
import psycopg

from cli.device import watch_device
from devices.queue import queue_devices
from events.wakeup import libpq_url
from infra.mqtt import InvalidMqttUrl, MqttTarget
from infra.settings import Settings
from publisher.main import Publisher


async def republish(settings: Settings, device_ids: Sequence[str] | None, echo: Callable[[str], None]) -> int:
    """Queue the devices and publish them; 0 when done, 1 when the database or the broker failed."""
    try:
        async with await psycopg.AsyncConnection.connect(
            libpq_url(settings.database_url), autocommit=True
        ) as conn:
            queued = await queue_devices(conn, device_ids)
        echo(f"queued {queued} devices")
        published = await Publisher(settings).drain()
    except psycopg.Error as error:
        echo(f"database unavailable: {error}")
        return 1
    except aiomqtt.MqttError as error:
        echo(f"broker {settings.mqtt_target().display} unavailable: {error}")
        return 1
    # A publisher running beside this command may have published some of them itself.
    echo(f"published {published} device states to {settings.mqtt_target().display}")
    return 0


def simulate(settings: Settings, device_id: str, mqtt_url: str | None, echo: Callable[[str], None]) -> int:
    try:
        target = MqttTarget.parse(mqtt_url) if mqtt_url else settings.mqtt_target()
    except InvalidMqttUrl as error:
        echo(f"--mqtt-url: {error}")
        return 2

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await watch_device(
            target=target,
            device_id=device_id,
            prefix=settings.mqtt_topic_prefix,
            echo=echo,
            stop=stop,
            ca_file=settings.mqtt_ca_file,
        )

    asyncio.run(main())
    return 0
