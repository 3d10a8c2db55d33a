"""Standard Webhooks signatures: HMAC-SHA256 of `id.timestamp.body`, sent as `v1,<base64>`, one per
secret in force, space-separated."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from webhooks.secrets import secret_key


def signature(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secrets: Sequence[str], *, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one delivery; each secret in force signs, so a receiver holding either verifies."""
    signatures = " ".join(
        signature(secret, message_id=message_id, timestamp=timestamp, body=body) for secret in secrets
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Whether one of the signatures was made with `secret` (for `iot-billing listen`)."""
    expected = signature(
        secret,
        message_id=headers.get("webhook-id", ""),
        timestamp=int(headers.get("webhook-timestamp", "0") or 0),
        body=body,
    )
    offered = headers.get("webhook-signature", "").split()
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)
