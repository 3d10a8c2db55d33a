"""Broker URLs: what the publisher, the simulator and the dev stack accept, and what they never print."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from devstack.broker import subscribe_commands
from infra.mqtt import InvalidMqttUrl, MqttTarget
from infra.settings import Settings


def test_urls_parse_with_default_ports_tls_and_escaped_credentials() -> None:
    assert MqttTarget.parse("mqtt://127.0.0.1") == MqttTarget("127.0.0.1", 1883, tls=False)
    secure = MqttTarget.parse("mqtts://iot-billing-publisher:p%40ss@broker.example:9883")
    assert (secure.host, secure.port, secure.tls) == ("broker.example", 9883, True)
    assert (secure.username, secure.password) == ("iot-billing-publisher", "p@ss")
    assert secure.display == "mqtts://iot-billing-publisher@broker.example:9883"
    assert "secret" not in repr(Settings(mqtt_url="mqtts://u:secret@h").mqtt_url)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:1883", "starts with mqtt:// or mqtts://"),
        ("mqtt://", "names no host"),
        ("mqtt://host:port", "port is not a number"),
    ],
)
def test_bad_urls_are_refused_at_start_up(url: str, says: str) -> None:
    with pytest.raises(InvalidMqttUrl, match=says):
        MqttTarget.parse(url)
    with pytest.raises(ValidationError, match=says):
        Settings(mqtt_url=url)


def test_a_topic_prefix_with_wildcards_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(mqtt_topic_prefix="fleet/#")


def test_the_banner_commands_paste_as_they_are() -> None:
    simulator, raw = subscribe_commands(
        "mqtt://127.0.0.1:40123", "iot-billing/devices/+/entitlements", "cam-1"
    )
    assert simulator == "iot-billing device cam-1 --mqtt-url mqtt://127.0.0.1:40123"
    assert raw == "mosquitto_sub -h 127.0.0.1 -p 40123 -t 'iot-billing/devices/+/entitlements' -v"
