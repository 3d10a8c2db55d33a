"""deploy/mosquitto (the production broker's configuration and ACL) on a real Mosquitto the test starts:
TLS only, no anonymous or plaintext clients, a device reads its own topic and nothing else, and only the
publisher's writes land."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import subprocess
import uuid
from contextlib import suppress
from pathlib import Path

import aiomqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cli.devices import republish
from infra.db import SessionFactory
from infra.mqtt import MqttTarget, mqtt_client
from models.device_state import device_topic
from tests.devices.support import change_entitlement, contract_for_tests, publisher_settings
from tests.support.brokers import OwnMosquitto, require_mosquitto_binary

REPO_ROOT = Path(__file__).resolve().parents[2]
PREFIX = "iot-billing"  # the prefix the ACL file names
PUBLISHER = "iot-billing-publisher"


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name | None,
    signer: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


def _secrets(folder: Path, passwords: dict[str, str]) -> None:
    """What an operator puts in IOT_BILLING_MQTT_SECRETS: a CA, the server's certificate and key and the
    passwords."""
    folder.mkdir()
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("test CA", ca_key, None, ca_key)
    server = _certificate("127.0.0.1", server_key, ca.subject, ca_key)
    (folder / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.crt").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    passwd = str(Path(require_mosquitto_binary()).parent.parent / "bin" / "mosquitto_passwd")
    passwd = passwd if Path(passwd).exists() else "mosquitto_passwd"
    (folder / "passwords").touch()
    for user, password in passwords.items():
        subprocess.run([passwd, "-b", str(folder / "passwords"), user, password], check=True)


@pytest.fixture
def broker(tmp_path: Path) -> OwnMosquitto:
    require_mosquitto_binary()
    secrets = tmp_path / "secrets"
    _secrets(secrets, {PUBLISHER: "publisher-pw", "dev-1": "dev-1-pw", "dev-2": "dev-2-pw"})
    production = (REPO_ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    own = OwnMosquitto(tmp_path)
    config = (
        production.replace("/mosquitto/secrets/", f"{secrets}/")
        .replace("/mosquitto/config/acl", str(REPO_ROOT / "deploy" / "mosquitto" / "acl"))
        .replace("persistence true", "persistence false")
        .replace("log_dest stdout", "")
        .replace("listener 8883", f"listener {own.port} 127.0.0.1")
    )
    own.config = config
    yield own.start()
    own.stop()


def url(broker: OwnMosquitto, user: str | None = None, password: str | None = None) -> str:
    who = f"{user}:{password}@" if user else ""
    return f"mqtts://{who}127.0.0.1:{broker.port}"


def client(broker: OwnMosquitto, user: str | None, password: str | None = None) -> aiomqtt.Client:
    ca = str(broker.workdir / "secrets" / "ca.crt")
    return mqtt_client(MqttTarget.parse(url(broker, user, password)), ca_file=ca, timeout=5)


async def messages_on(broker: OwnMosquitto, user: str, password: str, topic: str) -> list[bytes]:
    """What `user` receives on `topic` within a second of subscribing (retained messages come at once)."""
    got: list[bytes] = []
    async with client(broker, user, password) as device:
        await device.subscribe(topic, qos=1)
        with suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                async for message in device.messages:
                    got.append(bytes(message.payload))  # type: ignore[arg-type]
    return got


async def test_devices_read_only_their_own_topic_and_only_the_publisher_writes(
    broker: OwnMosquitto, sessions: SessionFactory, database_url_for_test: str
) -> None:
    contract_id = contract_for_tests(sessions)
    for device in ("dev-1", "dev-2"):
        change_entitlement(sessions, device_id=device, contract_id=contract_id)
    # Our publisher, over TLS with the CA, as docker-compose configures it.
    settings = publisher_settings(
        database_url_for_test,
        url(broker, PUBLISHER, "publisher-pw"),
        PREFIX,
        mqtt_ca_file=str(broker.workdir / "secrets" / "ca.crt"),
    )
    said: list[str] = []
    assert await republish(settings, None, said.append) == 0, said
    own = device_topic(PREFIX, "dev-1")

    mine = await messages_on(broker, "dev-1", "dev-1-pw", own)
    assert len(mine) == 1 and b'"device_id":"dev-1"' in mine[0]
    assert await messages_on(broker, "dev-1", "dev-1-pw", device_topic(PREFIX, "dev-2")) == []
    assert await messages_on(broker, "dev-1", "dev-1-pw", device_topic(PREFIX, "+")) == mine

    # A device's own write is acknowledged and dropped: the retained state is still the publisher's.
    async with client(broker, "dev-1", "dev-1-pw") as device:
        await device.publish(own, b'{"forged": true}', qos=1, retain=True)
    assert await messages_on(broker, "dev-1", "dev-1-pw", own) == mine
    # The publisher writes device states only.
    async with client(broker, PUBLISHER, "publisher-pw") as publisher:
        await publisher.publish(f"{PREFIX}/other/{uuid.uuid4().hex}", b"x", qos=1, retain=True)
        await publisher.publish(own, b"", qos=1, retain=True)
    assert await messages_on(broker, "dev-1", "dev-1-pw", own) == []


async def test_no_anonymous_wrong_password_or_plaintext_client(broker: OwnMosquitto) -> None:
    for user, password in ((None, None), ("dev-1", "wrong"), ("dev-9", "dev-1-pw")):
        with pytest.raises(aiomqtt.MqttError):
            async with client(broker, user, password):
                pass
    plaintext = mqtt_client(MqttTarget.parse(f"mqtt://dev-1:dev-1-pw@127.0.0.1:{broker.port}"), timeout=3)
    with pytest.raises(aiomqtt.MqttError):
        async with plaintext:
            pass
