"""Bad requests, table-driven: each gets its precise status and problem `type`, and changes nothing —
no row in any table, no workflow on the test's task queue."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from infra.db import SessionFactory, make_session_factory
from tests.api.support import (
    USER_SECRET,
    admin,
    api_client,
    api_settings,
    assert_problem,
    keyed,
    row_counts,
    user,
    workflows_on,
)
from tests.support.factories import discontinue, make_contract, make_devices, make_product, unbind


@dataclass(frozen=True)
class World:
    """The catalog every case runs against."""

    product: str
    discontinued: str
    alice: tuple[str, ...]  # four bound devices of alice's
    unbound: str
    taken: str  # alice's, already in her running subscription
    bobs: str
    alice_sub: str
    bob_sub: str


@pytest.fixture(scope="module")
def sessions(module_engine: Engine) -> SessionFactory:
    return make_session_factory(module_engine)


@pytest.fixture(scope="module")
async def http(
    module_engine: Engine, module_task_queue: str, dev_server_env: WorkflowEnvironment
) -> AsyncIterator[httpx.AsyncClient]:
    """One app and one database for every case: each must leave both exactly as it found them."""
    app = create_app(
        api_settings(module_task_queue), temporal_client=dev_server_env.client, engine=module_engine
    )
    async with api_client(app) as client:
        yield client


@pytest.fixture(scope="module")
def world(sessions: SessionFactory) -> World:
    product = make_product(sessions, max_devices=3)
    discontinued = make_product(sessions)
    discontinue(sessions, discontinued)
    alice = make_devices(sessions, owner="alice", count=6)
    unbind(sessions, alice[4])
    [bobs] = make_devices(sessions, owner="bob", count=1)
    return World(
        product=str(product),
        discontinued=str(discontinued),
        alice=alice[:4],
        unbound=alice[4],
        taken=alice[5],
        bobs=bobs,
        alice_sub=make_contract(sessions, user_id="alice", product_id=product, devices=[alice[5]]),
        bob_sub=make_contract(sessions, user_id="bob", product_id=product, devices=[bobs]),
    )


Body = Callable[[World], Any]


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str  # formatted with `w` = the World
    status: int
    slug: str
    field: str | None = None
    auth: Callable[[], dict[str, str]] = lambda: user("alice")
    body: Body | None = None
    content: bytes | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    idempotency_key: bool = True


def signup(**overrides: Any) -> Body:
    def build(w: World) -> dict[str, Any]:
        body: dict[str, Any] = {
            "product_id": w.product,
            "device_ids": list(w.alice[:2]),
            "payment": {"agreement_token": "sandbox_ok"},
        }
        for key, value in overrides.items():
            if value is _DROP:
                body.pop(key)
            else:
                body[key] = value(w) if callable(value) else value
        return body

    return build


def product(**overrides: Any) -> Body:
    def build(_w: World) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": "cloud video",
            "resource_type": "cloud_video_storage",
            "billing_cycle": "P1M",
            "unit_price": {"amount_minor": 1500, "currency": "CNY"},
        }
        body.update(overrides)
        return body

    return build


_DROP = object()
SUBS = "/v1/subscriptions"


def _token(
    claims: dict[str, Any], secret: str = USER_SECRET, algorithm: str = "HS256"
) -> Callable[[], dict[str, str]]:
    return lambda: {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm=algorithm)}"}


def _later() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=5)


CASES = [
    # --- authentication and authorisation ---
    Case("no token", "POST", SUBS, 401, "authentication-required", "Authorization", auth=dict, body=signup()),
    Case(
        "basic auth",
        "POST",
        SUBS,
        401,
        "authentication-required",
        auth=lambda: {"Authorization": "Basic YTpi"},
        body=signup(),
    ),
    Case(
        "garbage token",
        "POST",
        SUBS,
        401,
        "invalid-token",
        auth=lambda: {"Authorization": "Bearer nope"},
        body=signup(),
    ),
    Case(
        "expired token",
        "POST",
        SUBS,
        401,
        "token-expired",
        auth=lambda: user("alice", ttl=timedelta(seconds=-5)),
        body=signup(),
    ),
    Case(
        "wrong secret",
        "POST",
        SUBS,
        401,
        "invalid-token",
        auth=_token({"sub": "alice", "exp": _later()}, "x" * 40),
        body=signup(),
    ),
    Case("no exp claim", "POST", SUBS, 401, "invalid-token", auth=_token({"sub": "alice"}), body=signup()),
    Case("no sub claim", "POST", SUBS, 401, "invalid-token", auth=_token({"exp": _later()}), body=signup()),
    Case(
        "alg none",
        "POST",
        SUBS,
        401,
        "invalid-token",
        auth=_token({"sub": "alice", "exp": _later()}, "", "none"),
        body=signup(),
    ),
    Case("admin on a user call", "POST", SUBS, 403, "user-required", auth=admin, body=signup()),
    Case("user on an admin call", "POST", "/v1/products", 403, "admin-required", body=product()),
    Case("wrong user reads", "GET", SUBS + "/{w.bob_sub}", 404, "subscription-not-found"),
    Case("wrong user cancels", "POST", SUBS + "/{w.bob_sub}/cancel", 404, "subscription-not-found"),
    Case(
        "wrong user adds devices",
        "POST",
        SUBS + "/{w.bob_sub}/devices",
        404,
        "subscription-not-found",
        body=lambda w: {"device_ids": [w.alice[0]]},
    ),
    Case(
        "wrong user removes a device",
        "DELETE",
        SUBS + "/{w.bob_sub}/devices/{w.bobs}",
        404,
        "subscription-not-found",
    ),
    Case(
        "wrong user's device entitlements",
        "GET",
        "/v1/devices/{w.bobs}/entitlements",
        404,
        "device-not-found",
    ),
    # --- signup: request shape ---
    Case(
        "malformed json",
        "POST",
        SUBS,
        400,
        "malformed-json",
        "body",
        content=b'{"product_id": ',
        headers={"Content-Type": "application/json"},
    ),
    Case("json array body", "POST", SUBS, 422, "validation-error", "body", body=lambda w: [w.product]),
    Case(
        "text/plain body",
        "POST",
        SUBS,
        415,
        "unsupported-media-type",
        "body",
        content=b"product=1",
        headers={"Content-Type": "text/plain"},
    ),
    Case(
        "missing product_id",
        "POST",
        SUBS,
        422,
        "validation-error",
        "product_id",
        body=signup(product_id=_DROP),
    ),
    Case("missing payment", "POST", SUBS, 422, "validation-error", "payment", body=signup(payment=_DROP)),
    Case("extra field", "POST", SUBS, 422, "validation-error", "coupon", body=signup(coupon="FREE")),
    Case(
        "extra payment field",
        "POST",
        SUBS,
        422,
        "validation-error",
        "payment.card",
        body=signup(payment={"agreement_token": "sandbox_ok", "card": "4242"}),
    ),
    Case(
        "product_id not a uuid",
        "POST",
        SUBS,
        422,
        "validation-error",
        "product_id",
        body=signup(product_id="p-1"),
    ),
    Case(
        "device_ids a string",
        "POST",
        SUBS,
        422,
        "validation-error",
        "device_ids",
        body=signup(device_ids=lambda w: w.alice[0]),
    ),
    Case(
        "agreement token a number",
        "POST",
        SUBS,
        422,
        "validation-error",
        "payment.agreement_token",
        body=signup(payment={"agreement_token": 7}),
    ),
    Case(
        "device id with spaces",
        "POST",
        SUBS,
        422,
        "validation-error",
        "device_ids.0",
        body=signup(device_ids=["cam 1"]),
    ),
    Case(
        "voucher claim not a uuid",
        "POST",
        SUBS,
        422,
        "validation-error",
        "voucher_claim_id",
        body=signup(voucher_claim_id="half-off"),
    ),
    Case(
        "missing idempotency key",
        "POST",
        SUBS,
        400,
        "idempotency-key-required",
        "Idempotency-Key",
        body=signup(),
        idempotency_key=False,
    ),
    Case(
        "idempotency key too long",
        "POST",
        SUBS,
        400,
        "invalid-idempotency-key",
        "Idempotency-Key",
        body=signup(),
        idempotency_key=False,
        headers={"Idempotency-Key": "k" * 201},
    ),
    Case(
        "oversized body",
        "POST",
        SUBS,
        413,
        "body-too-large",
        "body",
        content=b'{"pad": "' + b"x" * 70_000 + b'"}',
        headers={"Content-Type": "application/json"},
    ),
    # --- signup: what the database says ---
    Case(
        "unknown product",
        "POST",
        SUBS,
        422,
        "unknown-product",
        "product_id",
        body=signup(product_id=str(uuid.uuid4())),
    ),
    Case(
        "discontinued product",
        "POST",
        SUBS,
        422,
        "product-discontinued",
        "product_id",
        body=signup(product_id=lambda w: w.discontinued),
    ),
    Case("empty device list", "POST", SUBS, 422, "no-devices", "device_ids", body=signup(device_ids=[])),
    Case(
        "duplicate devices",
        "POST",
        SUBS,
        422,
        "duplicate-devices",
        "device_ids",
        body=signup(device_ids=lambda w: [w.alice[0], w.alice[0]]),
    ),
    Case(
        "someone else's device",
        "POST",
        SUBS,
        422,
        "unknown-device",
        "device_ids",
        body=signup(device_ids=lambda w: [w.alice[0], w.bobs]),
    ),
    Case(
        "nonexistent device",
        "POST",
        SUBS,
        422,
        "unknown-device",
        "device_ids",
        body=signup(device_ids=["cam-ghost"]),
    ),
    Case(
        "too many devices",
        "POST",
        SUBS,
        422,
        "too-many-devices",
        "device_ids",
        body=signup(device_ids=lambda w: list(w.alice)),
    ),
    Case(
        "unbound device",
        "POST",
        SUBS,
        409,
        "device-not-bound",
        "device_ids",
        body=signup(device_ids=lambda w: [w.unbound]),
    ),
    Case(
        "device already entitled",
        "POST",
        SUBS,
        409,
        "device-already-subscribed",
        "device_ids",
        body=signup(device_ids=lambda w: [w.alice[0], w.taken]),
    ),
    Case(
        "unknown time zone",
        "POST",
        SUBS,
        422,
        "unknown-timezone",
        "timezone",
        body=signup(timezone="Mars/Olympus_Mons"),
    ),
    Case(
        "unknown voucher claim",
        "POST",
        SUBS,
        422,
        "voucher-not-usable",
        "voucher_claim_id",
        body=signup(voucher_claim_id=str(uuid.uuid4())),
    ),
    # --- products ---
    Case(
        "bad cycle string",
        "POST",
        "/v1/products",
        422,
        "invalid-billing-cycle",
        "billing_cycle",
        auth=admin,
        body=product(billing_cycle="monthly"),
    ),
    Case(
        "mixed cycle units",
        "POST",
        "/v1/products",
        422,
        "invalid-billing-cycle",
        "billing_cycle",
        auth=admin,
        body=product(billing_cycle="P1M2D"),
    ),
    Case(
        "zero cycle",
        "POST",
        "/v1/products",
        422,
        "invalid-billing-cycle",
        "billing_cycle",
        auth=admin,
        body=product(billing_cycle="P0D"),
    ),
    Case(
        "negative money",
        "POST",
        "/v1/products",
        422,
        "validation-error",
        "unit_price.amount_minor",
        auth=admin,
        body=product(unit_price={"amount_minor": -1, "currency": "CNY"}),
    ),
    Case(
        "float money",
        "POST",
        "/v1/products",
        422,
        "validation-error",
        "unit_price.amount_minor",
        auth=admin,
        body=product(unit_price={"amount_minor": 15.5, "currency": "CNY"}),
    ),
    Case(
        "money as a string",
        "POST",
        "/v1/products",
        422,
        "validation-error",
        "unit_price.amount_minor",
        auth=admin,
        body=product(unit_price={"amount_minor": "1500", "currency": "CNY"}),
    ),
    Case(
        "lower-case currency",
        "POST",
        "/v1/products",
        422,
        "validation-error",
        "unit_price.currency",
        auth=admin,
        body=product(unit_price={"amount_minor": 1500, "currency": "cny"}),
    ),
    Case(
        "zero dunning delay",
        "POST",
        "/v1/products",
        422,
        "validation-error",
        "dunning.delays_seconds.0",
        auth=admin,
        body=product(dunning={"delays_seconds": [0], "max_attempts": 3}),
    ),
    Case(
        "boolean max devices",
        "POST",
        "/v1/products",
        422,
        "validation-error",
        "max_devices",
        auth=admin,
        body=product(max_devices=True),
    ),
    Case(
        "extra product field",
        "POST",
        "/v1/products",
        422,
        "validation-error",
        "discount",
        auth=admin,
        body=product(discount=10),
    ),
    Case(
        "missing product name",
        "POST",
        "/v1/products",
        422,
        "validation-error",
        "name",
        auth=admin,
        body=lambda w: {k: v for k, v in product()(w).items() if k != "name"},
    ),
    Case(
        "renewal notice as long as the cycle",
        "POST",
        "/v1/products",
        422,
        "invalid-renewal-notice",
        "renewal_notice",
        auth=admin,
        body=product(billing_cycle="P1M", renewal_notice="P28D"),
    ),
    Case(
        "renewal notice not a duration",
        "POST",
        "/v1/products",
        422,
        "invalid-renewal-notice",
        "renewal_notice",
        auth=admin,
        body=product(renewal_notice="3 days"),
    ),
    Case(
        "patch unknown product",
        "PATCH",
        "/v1/products/" + str(uuid.uuid4()),
        404,
        "product-not-found",
        auth=admin,
        body=lambda w: {"name": "x"},
    ),
    Case(
        "patch currency",
        "PATCH",
        "/v1/products/{w.product}",
        422,
        "currency-change-not-allowed",
        "unit_price.currency",
        auth=admin,
        body=lambda w: {"unit_price": {"amount_minor": 100, "currency": "USD"}},
    ),
    Case(
        "patch renewal notice longer than the cycle",
        "PATCH",
        "/v1/products/{w.product}",
        422,
        "invalid-renewal-notice",
        "renewal_notice",
        auth=admin,
        body=lambda w: {"renewal_notice": "P31D"},
    ),
    Case(
        "patch null name",
        "PATCH",
        "/v1/products/{w.product}",
        422,
        "validation-error",
        "name",
        auth=admin,
        body=lambda w: {"name": None},
    ),
    Case(
        "patch resource type",
        "PATCH",
        "/v1/products/{w.product}",
        422,
        "validation-error",
        "resource_type",
        auth=admin,
        body=lambda w: {"resource_type": "other"},
    ),
    Case(
        "patch bad product id",
        "PATCH",
        "/v1/products/not-a-uuid",
        422,
        "validation-error",
        "product_id",
        auth=admin,
        body=lambda w: {"name": "x"},
    ),
    Case(
        "list products bad status",
        "GET",
        "/v1/products?status=retired",
        422,
        "validation-error",
        "status",
        auth=admin,
    ),
    # --- devices ---
    Case(
        "device of another owner",
        "POST",
        "/v1/devices",
        409,
        "device-owned-by-another-user",
        "id",
        auth=admin,
        body=lambda w: {"id": w.bobs, "owner_user_id": "alice"},
    ),
    Case(
        "device id with a slash",
        "POST",
        "/v1/devices",
        422,
        "validation-error",
        "id",
        auth=admin,
        body=lambda w: {"id": "a/b", "owner_user_id": "alice"},
    ),
    Case(
        "device owner missing",
        "POST",
        "/v1/devices",
        422,
        "validation-error",
        "owner_user_id",
        auth=admin,
        body=lambda w: {"id": "cam-new"},
    ),
    Case(
        "unbind unknown device", "POST", "/v1/devices/cam-ghost/unbind", 404, "device-not-found", auth=admin
    ),
    Case("unbind as a user", "POST", "/v1/devices/{w.alice[0]}/unbind", 403, "admin-required"),
    Case(
        "entitlements of unknown device",
        "GET",
        "/v1/devices/cam-ghost/entitlements",
        404,
        "device-not-found",
        auth=admin,
    ),
    # --- subscriptions ---
    Case(
        "unknown subscription",
        "GET",
        SUBS + "/" + str(uuid.uuid4()),
        404,
        "subscription-not-found",
        auth=admin,
    ),
    Case(
        "subscription id not a uuid",
        "GET",
        SUBS + "/42",
        422,
        "validation-error",
        "subscription_id",
        auth=admin,
    ),
    Case(
        "cancel with a bad mode",
        "POST",
        SUBS + "/{w.alice_sub}/cancel",
        422,
        "validation-error",
        "mode",
        body=lambda w: {"mode": "yesterday"},
    ),
    Case(
        "cancel with an extra field",
        "POST",
        SUBS + "/{w.alice_sub}/cancel",
        422,
        "validation-error",
        "refund",
        body=lambda w: {"refund": True},
    ),
    Case(
        "add no devices",
        "POST",
        SUBS + "/{w.alice_sub}/devices",
        422,
        "validation-error",
        "device_ids",
        body=lambda w: {"device_ids": []},
    ),
    Case(
        "add duplicate devices",
        "POST",
        SUBS + "/{w.alice_sub}/devices",
        422,
        "duplicate-devices",
        "device_ids",
        body=lambda w: {"device_ids": [w.alice[0], w.alice[0]]},
    ),
    Case(
        "add someone else's device",
        "POST",
        SUBS + "/{w.alice_sub}/devices",
        422,
        "unknown-device",
        "device_ids",
        body=lambda w: {"device_ids": [w.bobs]},
    ),
    Case(
        "add an unbound device",
        "POST",
        SUBS + "/{w.alice_sub}/devices",
        409,
        "device-not-bound",
        "device_ids",
        body=lambda w: {"device_ids": [w.unbound]},
    ),
    Case(
        "admin changes a group",
        "POST",
        SUBS + "/{w.alice_sub}/devices",
        403,
        "user-required",
        auth=admin,
        body=lambda w: {"device_ids": [w.alice[0]]},
    ),
    Case(
        "list with a bad status", "GET", SUBS + "?status=happy", 422, "validation-error", "status", auth=admin
    ),
    Case("list with limit 0", "GET", SUBS + "?limit=0", 422, "validation-error", "limit", auth=admin),
    Case(
        "list filter with a NUL",
        "GET",
        SUBS + "?user_id=a%00b",
        422,
        "validation-error",
        "user_id",
        auth=admin,
    ),
    Case(
        "device path with a NUL",
        "GET",
        "/v1/devices/cam%00/entitlements",
        422,
        "validation-error",
        "device_id",
        auth=admin,
    ),
    Case(
        "token subject with a NUL",
        "GET",
        SUBS,
        401,
        "invalid-token",
        auth=_token({"sub": "a\x00", "exp": _later()}),
    ),
    # --- routing ---
    Case("unknown route", "GET", "/v1/nothing-here", 404, "not-found"),
    Case("wrong method", "PUT", "/v1/products", 405, "method-not-allowed", auth=admin, body=product()),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_bad_request_is_refused_precisely_and_changes_nothing(
    case: Case,
    world: World,
    http: httpx.AsyncClient,
    sessions: SessionFactory,
    dev_server_env: WorkflowEnvironment,
    module_task_queue: str,
) -> None:
    headers = {**case.auth(), **case.headers}
    if case.idempotency_key and case.method == "POST" and case.path == SUBS:
        headers = keyed(headers)
    before = row_counts(sessions)

    response = await http.request(
        case.method,
        case.path.format(w=world),
        headers=headers,
        json=case.body(world) if case.body is not None else None,
        content=case.content,
    )

    problem = assert_problem(response, case.status, case.slug, field=case.field)
    if case.status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if problem.get("errors"):
        assert all({"field", "code", "message"} <= set(e) for e in problem["errors"])
    assert row_counts(sessions) == before
    assert await workflows_on(dev_server_env.client, module_task_queue) == []


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


async def test_an_oversized_body_without_content_length_is_refused_while_read(
    world: World, http: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"product_id": "'
        for _ in range(20):
            yield b"x" * 4096
        yield b'"}'

    before = row_counts(sessions)
    response = await http.post(
        SUBS, content=chunks(), headers={**keyed(user("alice")), "Content-Type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "body-too-large", field="body")
    assert row_counts(sessions) == before
