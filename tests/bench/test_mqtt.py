"""The MQTT figures of `iot-billing bench`, at a small size against the embedded broker: every figure is
measured, from states the publisher really delivered (no speed is asserted here)."""

from __future__ import annotations

from pathlib import Path

from bench.mqtt import mqtt_figures
from infra.db import SessionFactory
from tests.devices.support import contract_for_tests, publisher_settings, queued, running_publisher
from tests.support.brokers import embedded_broker


async def test_figures_come_from_delivered_states(
    sessions: SessionFactory, database_url_for_test: str, tmp_path: Path
) -> None:
    contract_for_tests(sessions)
    with embedded_broker(tmp_path) as url:
        settings = publisher_settings(database_url_for_test, url, "bench-test")
        advanced: list[int] = []
        async with running_publisher(settings) as publisher:
            figures = await mqtt_figures(
                database_url=database_url_for_test,
                mqtt_url=url,
                prefix="bench-test",
                devices=40,
                samples=5,
                progress=advanced.append,
            )
    assert publisher.published >= 45
    assert queued(sessions) == 0
    assert sum(advanced) == 5 + 2 * 40
    assert 0 < figures["mqtt_change_to_device_p50_ms"] <= figures["mqtt_change_to_device_p99_ms"]
    assert figures["mqtt_publishes_per_s"] > 0 and figures["mqtt_bare_publishes_per_s"] > 0
    assert figures["mqtt_ratio"] == figures["mqtt_publishes_per_s"] / figures["mqtt_bare_publishes_per_s"]
