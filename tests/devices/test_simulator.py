"""`iot-billing device`: a device's view of its own topic, printed as it changes; an older version that
arrives after a newer one is ignored, as docs/devices.md asks of every device."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli.device import DeviceView
from infra.db import SessionFactory
from models.device_state import device_state
from tests.devices.support import (
    change_entitlement,
    contract_for_tests,
    publisher_settings,
    running_publisher,
)
from tests.support.brokers import embedded_broker

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_view_keeps_the_highest_version() -> None:
    said: list[str] = []
    view = DeviceView(said.append)
    now = datetime.now(UTC)
    rows = [(uuid.uuid4(), "cloud_video_storage", "active", now + timedelta(days=30))]
    newer = device_state(device_id="cam-1", version=7, updated_at=now, rows=rows)
    older = device_state(device_id="cam-1", version=5, updated_at=now, rows=[])
    assert view.receive(newer.model_dump_json().encode())
    assert not view.receive(older.model_dump_json().encode())
    assert not view.receive(b"not json")
    assert view.state == newer
    assert "version 7" in said[0] and "open" in said[0]
    assert said[-1].startswith("ignored a message that is not a device state")


async def _read_until(stream: asyncio.StreamReader, marker: str, within: float = 20) -> str:
    seen = ""
    async with asyncio.timeout(within):
        while marker not in seen:
            line = await stream.readline()
            if not line:
                raise AssertionError(f"the simulator stopped before {marker!r}:\n{seen}")
            seen += line.decode()
    return seen


async def test_the_command_shows_open_then_revoked(
    sessions: SessionFactory, database_url_for_test: str, tmp_path: Path
) -> None:
    contract_id = contract_for_tests(sessions)
    device = f"cam-{uuid.uuid4().hex[:8]}"
    with embedded_broker(tmp_path) as url:
        settings = publisher_settings(database_url_for_test, url, "iot-billing")
        simulator = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli.main", "device", device, "--mqtt-url", url,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        assert simulator.stdout is not None
        try:
            await _read_until(simulator.stdout, "subscribed to iot-billing/devices/")
            async with running_publisher(settings):
                change_entitlement(sessions, device_id=device, contract_id=contract_id)
                opened = await _read_until(simulator.stdout, " open ")
                change_entitlement(sessions, device_id=device, contract_id=contract_id, status="revoked")
                revoked = await _read_until(simulator.stdout, " revoked ")
        finally:
            simulator.send_signal(signal.SIGINT)
            await asyncio.wait_for(simulator.wait(), timeout=10)
    assert f"subscription {contract_id}" in opened
    assert "version" in revoked and simulator.returncode == 0
