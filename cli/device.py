"""`iot-billing device DEVICE_ID`: connect the way a device does, subscribe to its own topic, and print its
entitlement state each time it changes, keeping the highest version seen (docs/devices.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import aiomqtt
from pydantic import ValidationError

from infra.mqtt import MqttTarget, mqtt_client
from models.device_state import DeviceState, device_topic

RECONNECT_SECONDS = 2.0


def describe(state: DeviceState) -> str:
    """One line per entitlement under a heading with the version."""
    lines = [f"{state.device_id}  version {state.version}  (updated {state.updated_at:%Y-%m-%d %H:%M:%S}Z)"]
    if not state.entitlements:
        lines.append("  no entitlements")
    for e in state.entitlements:
        lines.append(
            f"  {e.resource_type:<24} {e.status.value:<8} paid through "
            f"{e.paid_through.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z  subscription {e.subscription_id}"
        )
    return "\n".join(lines)


class DeviceView:
    """The device's side of the protocol: the highest version wins; an older message is ignored."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.state: DeviceState | None = None

    def receive(self, payload: bytes) -> bool:
        """True when the message changed what the device holds."""
        try:
            state = DeviceState.model_validate_json(payload)
        except ValidationError as error:
            self.echo(f"ignored a message that is not a device state: {error.error_count()} problems")
            return False
        if self.state is not None and state.version <= self.state.version:
            return False
        self.state = state
        self.echo(describe(state))
        return True


async def watch_device(
    *,
    target: MqttTarget,
    device_id: str,
    prefix: str,
    echo: Callable[[str], None],
    stop: asyncio.Event,
    ca_file: str | None = None,
) -> None:
    view = DeviceView(echo)
    topic = device_topic(prefix, device_id)
    stopping = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set():
            try:
                async with mqtt_client(target, ca_file=ca_file) as client:
                    echo(f"connected to {target.display}, subscribed to {topic}")
                    await client.subscribe(topic, qos=1)
                    receiving = asyncio.create_task(_receive(client, view))
                    done, _ = await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
                    if receiving in done:
                        receiving.result()  # the broker went away: raises its error
                    receiving.cancel()
                    await asyncio.gather(receiving, return_exceptions=True)
            except aiomqtt.MqttError as error:
                echo(f"{datetime.now(UTC):%H:%M:%S} broker unavailable ({error}); reconnecting")
                await asyncio.wait({stopping}, timeout=RECONNECT_SECONDS)
    finally:
        stopping.cancel()


async def _receive(client: aiomqtt.Client, view: DeviceView) -> None:
    async for message in client.messages:
        if isinstance(message.payload, bytes):
            view.receive(message.payload)
