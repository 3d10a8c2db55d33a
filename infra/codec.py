"""AES-256-GCM encryption of every Temporal payload (inputs, results, signals, updates, queries, memos,
failure details), so an agreement token never sits in plain text in a history.

Keys come from settings as `id:base64key,id2:base64key`; the first encrypts, all of them decrypt, so a
rotation puts the new key first and keeps the old ones until no run needs them. Each encrypted payload
names its key in its metadata. A payload without the `binary/encrypted` encoding is passed through
untouched on decode: histories written before the codec (and the committed replay histories) still read.
Search attributes are not payloads the codec sees; they stay plain and hold nothing secret."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
KEY_BYTES = 32
NONCE_BYTES = 12


class UnknownPayloadKey(ValueError):
    pass


@dataclass(frozen=True)
class PayloadKey:
    key_id: str
    secret: bytes


def parse_payload_keys(text: str) -> tuple[PayloadKey, ...]:
    """`id:base64key,...` -> keys, the active one first; ValueError names what is wrong, never a key."""
    keys: list[PayloadKey] = []
    for part in filter(None, (item.strip() for item in text.split(","))):
        key_id, separator, encoded = part.partition(":")
        if not separator or not key_id.strip():
            raise ValueError("payload keys are written id:base64key, separated by commas")
        try:
            secret = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            raise ValueError(f"payload key {key_id!r} is not valid base64") from None
        if len(secret) != KEY_BYTES:
            raise ValueError(f"payload key {key_id!r} must be {KEY_BYTES} bytes (AES-256), not {len(secret)}")
        keys.append(PayloadKey(key_id.strip(), secret))
    if not keys:
        raise ValueError("no payload key given")
    if len({key.key_id for key in keys}) != len(keys):
        raise ValueError("payload key ids must be unique")
    return tuple(keys)


def new_payload_key(key_id: str) -> str:
    """A fresh key in the settings' format, for a development data dir or an operator's rotation."""
    return f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


def codec_for(keys: str | None) -> EncryptionCodec | None:
    """The codec for keys in the settings' format; None (plain payloads) when there are none."""
    return EncryptionCodec(parse_payload_keys(keys)) if keys else None


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Sequence[PayloadKey]) -> None:
        if not keys:
            raise ValueError("an encryption codec needs at least one key")
        self._active = keys[0]
        self._ciphers = {key.key_id: AESGCM(key.secret) for key in keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._active.key_id
        nonce = os.urandom(NONCE_BYTES)
        # The key id is authenticated data: a payload relabelled with another key id fails to decrypt.
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownPayloadKey(f"payload encrypted with key {key_id!r}, which is not configured")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        return Payload.FromString(cipher.decrypt(nonce, sealed, key_id.encode()))
