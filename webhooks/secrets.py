"""Signing secrets in the Standard Webhooks form: `whsec_` and the base64 of random bytes."""

from __future__ import annotations

import base64
import secrets

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key a secret stands for: its base64 part, decoded."""
    return base64.b64decode(secret.removeprefix(PREFIX))
