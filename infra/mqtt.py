"""MQTT broker addresses as URLs (`mqtt://user:pass@host:1883`, `mqtts://host:8883` for TLS) and the
clients built from them; the publisher, the device simulator, the benchmark and the tests share these."""

from __future__ import annotations

import ssl
import uuid
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiomqtt

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
# aiomqtt logs a warning past this many publishes awaiting their acknowledgement; a batch has more.
PENDING_CALLS_WARNING = 10_000


class InvalidMqttUrl(ValueError):
    pass


@dataclass(frozen=True)
class MqttTarget:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> MqttTarget:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise InvalidMqttUrl(f"an MQTT URL starts with mqtt:// or mqtts://, not {url.split(':')[0]!r}")
        if not parts.hostname:
            raise InvalidMqttUrl("the MQTT URL names no host")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError as error:
            raise InvalidMqttUrl(f"the MQTT URL's port is not a number: {error}") from None
        return cls(
            host=parts.hostname,
            port=port,
            tls=parts.scheme == "mqtts",
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    @property
    def display(self) -> str:
        """The URL without its password, for banners and logs."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def mqtt_client(
    target: MqttTarget,
    *,
    client_id: str | None = None,
    ca_file: str | None = None,
    timeout: float = 10.0,
    max_inflight: int = 100,
) -> aiomqtt.Client:
    """A client for `target`; with no `client_id` a random one, so copies of a process never take each
    other's session."""
    context = None
    if target.tls:
        context = ssl.create_default_context(cafile=ca_file)
    client = aiomqtt.Client(
        target.host,
        target.port,
        username=target.username,
        password=target.password,
        identifier=client_id or f"iot-billing-{uuid.uuid4().hex[:12]}",
        timeout=timeout,
        tls_context=context,
        max_inflight_messages=max_inflight,
    )
    client.pending_calls_threshold = PENDING_CALLS_WARNING
    return client
