"""MQTT brokers for tests: the Mosquitto of this machine on 127.0.0.1:1883 when one answers, the embedded
amqtt broker of `make run`, and a Mosquitto a test starts on a free port (to stop it, or to try the ACL)."""

from __future__ import annotations

import asyncio
import getpass
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt
import pytest

from devstack.broker import embedded_broker_command, free_port
from infra.mqtt import MqttTarget, mqtt_client

MOSQUITTO_URL = "mqtt://127.0.0.1:1883"


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
    )


def answers(url: str, within: float = 2.0) -> bool:
    """An MQTT broker accepts a connection at `url`."""

    async def probe() -> bool:
        try:
            async with mqtt_client(MqttTarget.parse(url), timeout=within):
                return True
        except aiomqtt.MqttError:
            return False

    return asyncio.run(probe())


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {within:g}s")


@contextmanager
def embedded_broker(workdir: Path) -> Iterator[str]:
    """The amqtt broker as `make run` starts it; yields its URL."""
    port = free_port()
    argv = embedded_broker_command(workdir, host="127.0.0.1", port=port)
    with (workdir / "amqtt.log").open("ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, process, "amqtt")
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()
            process.wait()


@dataclass
class OwnMosquitto:
    """A Mosquitto of the test's own on a free port, retained messages persisted in `workdir`, so it can be
    stopped and started again like a production broker."""

    workdir: Path
    # The configuration after the user and log lines; by default an anonymous listener on `port`.
    config: str = ""
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> OwnMosquitto:
        binary = mosquitto_binary()
        assert binary is not None
        config = self.workdir / "mosquitto.conf"
        default = (
            f"listener {self.port} 127.0.0.1\n"
            f"persistence true\npersistence_location {self.workdir}/\nallow_anonymous true\n"
        )
        config.write_text(
            # Run as root, Mosquitto would switch to its own user, which cannot write the test's directory.
            f"user {getpass.getuser()}\nlog_dest file {self.workdir}/mosquitto.log\n"
            + (self.config or default)
        )
        self.process = subprocess.Popen([binary, "-c", str(config)], stderr=subprocess.DEVNULL)
        _wait_for_port(self.port, self.process, "mosquitto")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


def require_mosquitto_binary() -> str:
    binary = mosquitto_binary()
    if binary is None:
        pytest.skip("no `mosquitto` binary on this machine (apt-get install mosquitto)")
    return binary
