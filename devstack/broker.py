"""The MQTT broker of `make run`: amqtt (pure Python, from PyPI) on a free port of 127.0.0.1, unless
IOT_BILLING_MQTT_URL names a broker that already runs. amqtt keeps retained messages in memory only, so the
stack republishes every device's state when it starts one (docs/devices.md says why amqtt)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

# amqtt's own plugins log every packet; these are the ones a development broker needs.
_CONFIG = """\
listeners:
  default:
    type: tcp
    bind: {host}:{port}
plugins:
  amqtt.plugins.authentication.AnonymousAuthPlugin:
    allow_anonymous: true
"""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the broker binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def embedded_broker_command(config_dir: Path, *, host: str, port: int) -> list[str]:
    """Write the broker's configuration and return the command that runs it."""
    config_dir.mkdir(parents=True, exist_ok=True)
    config = config_dir / "amqtt.yaml"
    config.write_text(_CONFIG.format(host=host, port=port))
    return [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(config)]


def subscribe_commands(url: str, topic_filter: str, device_id: str) -> tuple[str, ...]:
    """Commands to paste: one device's view through the simulator, and every device's raw messages."""
    host_port = url.split("://", 1)[1].rsplit("@", 1)[-1]
    host, _, port = host_port.partition(":")
    return (
        f"iot-billing device {device_id} --mqtt-url {url}",
        f"mosquitto_sub -h {host} -p {port or 1883} -t '{topic_filter}' -v",
    )
