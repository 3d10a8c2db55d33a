"""The pure parts of webhooks: the retry schedule and signatures checked by an independent library."""

from __future__ import annotations

import random
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from webhooks.backoff import next_wait
from webhooks.secrets import new_secret, secret_key
from webhooks.signing import signed_headers

SCHEDULE = (60.0, 300.0, 1800.0)


def test_schedule_steps_then_gives_up() -> None:
    waits = [next_wait(failed_attempts=n, schedule=SCHEDULE, jitter=0) for n in (1, 2, 3, 4)]
    assert waits == [60.0, 300.0, 1800.0, None]


def test_jitter_stays_within_its_spread() -> None:
    rng = random.Random(7)
    waits = [next_wait(failed_attempts=2, schedule=SCHEDULE, jitter=0.2, rng=rng) for _ in range(200)]
    assert all(w is not None and 240 <= w <= 360 for w in waits)
    assert len(set(waits)) > 100


def test_secret_has_standard_form() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(secret_key(secret)) >= 24
    assert new_secret() != secret


def test_signatures_verify_with_standardwebhooks() -> None:
    old, new = new_secret(), new_secret()
    body = b'{"id":"evt_1","type":"voucher.claimed"}'
    headers = signed_headers([new, old], message_id="evt_1", timestamp=int(time.time()), body=body)
    assert len(headers["webhook-signature"].split()) == 2
    for secret in (old, new):
        Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(body + b" ", headers)
