"""Demo data for the dev stack, created through the HTTP API as an operator would, and idempotently: a
restart finds what the last run created and adds nothing twice."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

DEMO_USER = "demo-user"
DEMO_DEVICES = (
    ("demo-cam-1", "Front door camera"),
    ("demo-cam-2", "Garage camera"),
    ("demo-cam-3", "Nursery"),
)
DEMO_TOKEN_TTL = timedelta(days=30)


@dataclass(frozen=True)
class DemoProduct:
    name: str
    billing_cycle: str
    amount_minor: int
    dunning_delays_seconds: tuple[int, ...]
    dunning_max_attempts: int
    currency: str = "CNY"
    resource_type: str = "cloud_video_storage"
    max_devices: int = 5
    renewal_notice: str | None = None  # None: the catalog's default for the cycle
    signup_billing_day_allowed: bool = False

    def body(self) -> dict[str, Any]:
        notice = {"renewal_notice": self.renewal_notice} if self.renewal_notice else {}
        return notice | {
            "name": self.name,
            "resource_type": self.resource_type,
            "billing_cycle": self.billing_cycle,
            "unit_price": {"amount_minor": self.amount_minor, "currency": self.currency},
            "max_devices": self.max_devices,
            "dunning": {
                "delays_seconds": list(self.dunning_delays_seconds),
                "max_attempts": self.dunning_max_attempts,
            },
            "signup_billing_day_allowed": self.signup_billing_day_allowed,
        }


# A one-minute cycle with 20 s / 40 s dunning delays and a 20 s renewal notice: renewals, notices and
# retries can be watched live.
DEMO_PRODUCTS = (
    DemoProduct(
        name="Demo: cloud video storage, every minute",
        billing_cycle="PT1M",
        amount_minor=100,
        dunning_delays_seconds=(20, 40),
        dunning_max_attempts=3,
        renewal_notice="PT20S",
    ),
    DemoProduct(
        name="Cloud video storage, monthly",
        billing_cycle="P1M",
        amount_minor=1500,
        dunning_delays_seconds=(86_400, 259_200, 432_000),
        dunning_max_attempts=4,
        # Anniversaries by default; a signup may send `billing_day` to align (docs/billing.md).
        signup_billing_day_allowed=True,
    ),
)


@dataclass(frozen=True)
class DemoCatalog:
    product_ids: dict[str, str]  # billing cycle -> product id
    device_ids: tuple[str, ...]
    user_id: str = DEMO_USER


def seed_demo(client: httpx.Client, *, admin_token: str) -> DemoCatalog:
    """Create the demo products and devices that are missing; return what exists. `client` has the API's
    base URL."""
    admin = {"Authorization": f"Bearer {admin_token}"}
    listed = client.get("/v1/products", headers=admin)
    listed.raise_for_status()
    existing = {product["name"]: str(product["id"]) for product in listed.json()}
    product_ids: dict[str, str] = {}
    for product in DEMO_PRODUCTS:
        if product.name not in existing:
            created = client.post("/v1/products", json=product.body(), headers=admin)
            created.raise_for_status()
            existing[product.name] = str(created.json()["id"])
        product_ids[product.billing_cycle] = existing[product.name]
    for device_id, name in DEMO_DEVICES:
        registered = client.post(
            "/v1/devices", json={"id": device_id, "owner_user_id": DEMO_USER, "name": name}, headers=admin
        )
        # 200: bound by an earlier run; 409: an operator has since given it to another user, leave it so.
        if registered.status_code != httpx.codes.CONFLICT:
            registered.raise_for_status()
    return DemoCatalog(product_ids=product_ids, device_ids=tuple(device_id for device_id, _ in DEMO_DEVICES))


def demo_user_token(secret: str, user_id: str = DEMO_USER, *, ttl: timedelta = DEMO_TOKEN_TTL) -> str:
    """A user JWT as the API checks it (HS256 over IOT_BILLING_USER_TOKEN_SECRET, the user id in `sub`)."""
    from api.auth import issue_user_token

    return issue_user_token(secret, user_id, ttl)


def subscription_curl(*, api_url: str, user_token: str, product_id: str, device_ids: tuple[str, ...]) -> str:
    body = json.dumps(
        {
            "product_id": product_id,
            "device_ids": list(device_ids),
            "payment": {"agreement_token": "sandbox_ok"},
        }
    )
    return " \\\n  ".join(
        [
            f"curl -sS -X POST {api_url}/v1/subscriptions",
            f"-H {shlex.quote('Authorization: Bearer ' + user_token)}",
            '-H "Idempotency-Key: demo-$(date +%s)"',
            "-H 'Content-Type: application/json'",
            f"-d {shlex.quote(body)}",
        ]
    )
