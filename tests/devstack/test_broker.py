"""The dev stack's broker: amqtt embedded on a free port that keeps retained QoS 1 messages for a device
connecting later, or the broker IOT_BILLING_MQTT_URL names, with nothing started."""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path

import pytest
from rich.console import Console

from devstack.config import StackSettings
from devstack.stack import DevStack
from devstack.view import StackView
from infra.mqtt import MqttTarget, mqtt_client
from infra.settings import Settings


def _stack(tmp_path: Path) -> DevStack:
    stack = StackSettings(data_dir=tmp_path)
    return DevStack(stack, Settings(), StackView(Console(file=io.StringIO())), threading.Event())


async def _late_subscriber_gets(url: str) -> bytes:
    target = MqttTarget.parse(url)
    async with mqtt_client(target) as publisher:
        await publisher.publish(
            "iot-billing/devices/cam-1/entitlements", b'{"version": 1}', qos=1, retain=True
        )
    async with mqtt_client(target) as device:
        await device.subscribe("iot-billing/devices/cam-1/entitlements", qos=1)
        async with asyncio.timeout(10):
            async for message in device.messages:
                assert message.retain
                return bytes(message.payload)  # type: ignore[arg-type]
    raise AssertionError("no message")


def test_the_embedded_broker_keeps_retained_states_for_late_devices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IOT_BILLING_MQTT_URL", raising=False)
    dev = _stack(tmp_path)
    try:
        url, embedded = dev._start_broker()
        assert embedded and url.startswith("mqtt://127.0.0.1:") and url != "mqtt://127.0.0.1:1883"
        assert [child.name for child in dev.children] == ["mqtt"]
        assert asyncio.run(_late_subscriber_gets(url)) == b'{"version": 1}'
    finally:
        dev.shutdown()


def test_an_existing_broker_is_used_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOT_BILLING_MQTT_URL", "mqtt://user:secret@broker.example:1884")
    dev = _stack(tmp_path)
    url, embedded = dev._start_broker()
    assert (url, embedded) == ("mqtt://user:secret@broker.example:1884", False)
    assert dev.children == [] and dev.mqtt_display == "mqtt://user@broker.example:1884"
