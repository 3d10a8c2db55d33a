"""The payload codec: encryption with the active key, decryption with any configured one, plain payloads
passed through, and settings that refuse to run outside development without keys."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from pydantic import SecretStr, ValidationError
from temporalio.api.common.v1 import Payload

from infra.codec import (
    ENCODING,
    KEY_ID,
    EncryptionCodec,
    UnknownPayloadKey,
    new_payload_key,
    parse_payload_keys,
)
from infra.settings import Settings

SECRET = b'"agreement-token-1234"'


def plain() -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=SECRET)


async def test_payloads_are_encrypted_with_the_active_key_and_decrypt() -> None:
    codec = EncryptionCodec(parse_payload_keys(f"{new_payload_key('k2')},{new_payload_key('k1')}"))
    [encrypted] = await codec.encode([plain()])
    assert encrypted.metadata["encoding"] == ENCODING
    assert encrypted.metadata[KEY_ID] == b"k2"
    assert SECRET not in encrypted.SerializeToString()
    assert await codec.decode([encrypted]) == [plain()]


async def test_a_rotation_keeps_payloads_of_the_old_key_readable() -> None:
    old, new = new_payload_key("old"), new_payload_key("new")
    [written_before] = await EncryptionCodec(parse_payload_keys(old)).encode([plain()])
    rotated = EncryptionCodec(parse_payload_keys(f"{new},{old}"))
    assert await rotated.decode([written_before]) == [plain()]
    [written_after] = await rotated.encode([plain()])
    assert written_after.metadata[KEY_ID] == b"new"
    with pytest.raises(UnknownPayloadKey, match="'old'"):
        await EncryptionCodec(parse_payload_keys(new)).decode([written_before])


async def test_a_payload_written_before_the_codec_passes_through() -> None:
    codec = EncryptionCodec(parse_payload_keys(new_payload_key("k1")))
    assert await codec.decode([plain()]) == [plain()]


async def test_a_payload_relabelled_with_another_key_id_does_not_decrypt() -> None:
    keys = parse_payload_keys(f"{new_payload_key('a')},{new_payload_key('b')}")
    [encrypted] = await EncryptionCodec(keys).encode([plain()])
    encrypted.metadata[KEY_ID] = b"b"
    with pytest.raises(InvalidTag):
        await EncryptionCodec(keys).decode([encrypted])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("k1", "id:base64key"),
        ("k1:not-base64!", "not valid base64"),
        ("k1:c2hvcnQ=", "must be 32 bytes"),
        (f"{new_payload_key('k')},{new_payload_key('k')}", "unique"),
    ],
)
def test_malformed_keys_are_refused_without_echoing_them(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        parse_payload_keys(text)
    assert "c2hvcnQ=" not in str(refused.value)


def test_keys_are_required_outside_development_and_optional_in_it() -> None:
    secrets = {"admin_token": SecretStr("a" * 20), "user_token_secret": SecretStr("s" * 40)}
    with pytest.raises(ValidationError, match="IOT_BILLING_PAYLOAD_KEYS must be set"):
        Settings(environment="production", **secrets)
    assert Settings(environment="development").payload_codec() is None
    configured = Settings(environment="production", payload_keys=SecretStr(new_payload_key("p")), **secrets)
    assert isinstance(configured.payload_codec(), EncryptionCodec)
