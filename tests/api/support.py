"""Helpers for API tests: tokens, calls that build a catalog through the API, and the evidence that a
request changed nothing (row counts, workflows on the test's task queue)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func
from sqlmodel import SQLModel, select
from temporalio.client import Client

from api.auth import issue_user_token
from api.problems import PROBLEM_BASE, PROBLEM_JSON
from infra.codec import new_payload_key
from infra.db import SessionFactory, transaction
from infra.settings import Settings
from models.tables import (
    ChargeAttempt,
    ChargePlan,
    Contract,
    ContractEvent,
    Device,
    Entitlement,
    IdempotencyRecord,
    Product,
)

ADMIN_TOKEN = "test-admin-token"
# Outside development the settings require payload keys; the API tests' Temporal clients stay plain.
PAYLOAD_KEYS = new_payload_key("test-1")
USER_SECRET = "test-user-secret-with-enough-bytes-for-hs256"
TABLES: tuple[type[SQLModel], ...] = (
    Product,
    Device,
    Contract,
    ChargePlan,
    ChargeAttempt,
    Entitlement,
    ContractEvent,
    IdempotencyRecord,
)


def api_settings(task_queue: str, **overrides: Any) -> Settings:
    return Settings(
        environment="test",
        task_queue=task_queue,
        admin_token=SecretStr(ADMIN_TOKEN),
        user_token_secret=SecretStr(USER_SECRET),
        **({"payload_keys": SecretStr(PAYLOAD_KEYS)} | overrides),
    )


@asynccontextmanager
async def api_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def user(user_id: str, *, ttl: timedelta = timedelta(minutes=10)) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_user_token(USER_SECRET, user_id, ttl)}"}


def keyed(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key or uuid.uuid4().hex}


def product_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "30-day cloud video",
        "resource_type": "cloud_video_storage",
        "billing_cycle": "P30D",
        "unit_price": {"amount_minor": 1500, "currency": "CNY"},
        "max_devices": 5,
        "dunning": {"delays_seconds": [1], "max_attempts": 4},
    }
    body.update(overrides)
    return body


async def create_product(http: httpx.AsyncClient, **overrides: Any) -> str:
    response = await http.post("/v1/products", json=product_body(**overrides), headers=admin())
    assert response.status_code == 201, response.text
    product_id: str = response.json()["id"]
    return product_id


async def register_devices(http: httpx.AsyncClient, owner: str, count: int) -> list[str]:
    ids = [f"cam-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    for device_id in ids:
        response = await http.post(
            "/v1/devices", json={"id": device_id, "owner_user_id": owner, "name": device_id}, headers=admin()
        )
        assert response.status_code == 201, response.text
    return ids


def signup_body(
    product_id: str, devices: list[str], token: str = "sandbox_ok", **extra: Any
) -> dict[str, Any]:
    return {"product_id": product_id, "device_ids": devices, "payment": {"agreement_token": token}, **extra}


async def subscribe(
    http: httpx.AsyncClient,
    owner: str,
    product_id: str,
    devices: list[str],
    *,
    token: str = "sandbox_ok",
    key: str | None = None,
) -> httpx.Response:
    return await http.post(
        "/v1/subscriptions", json=signup_body(product_id, devices, token), headers=keyed(user(owner), key)
    )


def assert_problem(
    response: httpx.Response, status: int, slug: str, *, field: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_BASE + slug, body
    assert body["status"] == status and body["title"] and body["detail"], body
    if field is not None:
        assert body.get("field") == field, body
    return body


def row_counts(sessions: SessionFactory) -> dict[str, int]:
    with transaction(sessions) as session:
        return {
            table.__name__: session.exec(select(func.count()).select_from(table)).one() for table in TABLES
        }


async def workflows_on(client: Client, task_queue: str) -> list[str]:
    return [w.id async for w in client.list_workflows(f"TaskQueue = '{task_queue}'")]


async def eventually(
    probe: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], *, within: float = 15.0
) -> Any:
    """Poll `probe` until `check` holds on its result (visibility and signals are asynchronous)."""
    deadline = time.monotonic() + within
    value = await probe()
    while not check(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s; last value: {value!r}")
        await asyncio.sleep(0.1)
        value = await probe()
    return value
