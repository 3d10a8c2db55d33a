"""The operator's session cookie for the codec endpoint.

The Temporal Web UI cannot add an Authorization header to its codec calls; it can only send cookies
("Include cross-origin credentials"). An operator who proves the admin token once gets a cookie scoped to
`/codec`, and the UI's calls carry it. The cookie holds an expiry and an HMAC keyed by the admin token, not
the token itself, so it opens nothing but the codec and dies with a rotated admin token."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

COOKIE = "iot_billing_operator"
_PURPOSE = b"iot-billing operator session v1:"


def _mac(admin_token: str, expires: int) -> str:
    return hmac.new(admin_token.encode(), _PURPOSE + str(expires).encode(), hashlib.sha256).hexdigest()


def issue(admin_token: str, now: datetime, ttl: timedelta) -> str:
    expires = int((now + ttl).timestamp())
    return f"{expires}.{_mac(admin_token, expires)}"


def is_valid(admin_token: str, value: str, now: datetime) -> bool:
    expires_text, _, mac = value.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12:
        return False
    expires = int(expires_text)
    return now.timestamp() < expires and hmac.compare_digest(mac, _mac(admin_token, expires))
