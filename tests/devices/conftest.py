"""Device tests: a broker (this machine's Mosquitto on 1883 when one answers, and the embedded amqtt
broker), a topic prefix of the test's own, and a Temporal worker where a test drives subscriptions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.devices.support import clear_retained
from tests.support.brokers import MOSQUITTO_URL, answers, embedded_broker

# The workflow tests' worker on the time-skipping server, for the tests that drive subscriptions.
from tests.workflows.conftest import env  # noqa: F401

_mosquitto_answers: bool | None = None


def _mosquitto_up() -> bool:
    global _mosquitto_answers
    if _mosquitto_answers is None:
        _mosquitto_answers = answers(MOSQUITTO_URL)
    return _mosquitto_answers


@pytest.fixture(params=["mosquitto", "amqtt"])
def broker_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each broker the project supports: the test runs once against each."""
    if request.param == "mosquitto":
        if not _mosquitto_up():
            pytest.skip(f"no Mosquitto answers at {MOSQUITTO_URL} (apt-get install mosquitto)")
        yield MOSQUITTO_URL
        return
    with embedded_broker(tmp_path) as url:
        yield url


@pytest.fixture
def any_broker_url(tmp_path: Path) -> Iterator[str]:
    """Mosquitto when one answers on 1883, else the embedded broker: for tests about the engine's paths."""
    if _mosquitto_up():
        yield MOSQUITTO_URL
        return
    with embedded_broker(tmp_path) as url:
        yield url


@pytest.fixture
def prefix() -> str:
    """Topics of the test's own: a shared broker keeps other tests' retained states."""
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def cleanup(prefix: str) -> AsyncIterator[list[tuple[str, str]]]:
    """(broker URL, device id) pairs whose retained states are deleted after the test."""
    left: list[tuple[str, str]] = []
    yield left
    for url, device_id in left:
        if url == MOSQUITTO_URL:
            await clear_retained(url, prefix, [device_id])
