"""POST /v1/subscriptions through a real worker: the outcome of signing and the first charge, and
idempotency (one workflow per key, the same answer on retry)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory, transaction
from models.idempotency import IdempotencyRecord
from tests.api.support import (
    admin,
    assert_problem,
    create_product,
    eventually,
    keyed,
    register_devices,
    row_counts,
    signup_body,
    subscribe,
    user,
    workflows_on,
)
from workflows.constants import subscription_workflow_id

pytestmark = pytest.mark.usefixtures("worker")


async def test_paid_signup_answers_201_and_entitles_every_device(http: httpx.AsyncClient) -> None:
    product_id = await create_product(http)
    devices = await register_devices(http, "alice", 2)

    response = await subscribe(http, "alice", product_id, devices)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "active" and body["period"] == 0 and body["periods_charged"] == 1
    assert body["user_id"] == "alice" and body["device_ids"] == devices
    assert body["paid_through"] is not None
    for device_id in devices:
        seen = await http.get(f"/v1/devices/{device_id}/entitlements", headers=user("alice"))
        assert seen.status_code == 200, seen.text
        [entitlement] = seen.json()["entitlements"]
        assert entitlement["subscription_id"] == body["id"]
        assert entitlement["resource_type"] == "cloud_video_storage"
        assert entitlement["valid_until"] == body["paid_through"]
    detail = (await http.get(f"/v1/subscriptions/{body['id']}", headers=user("alice"))).json()
    assert detail["source"] == "workflow" and detail["status"] == "active"
    assert [(p["period"], p["amount_minor"], p["status"]) for p in detail["history"]["plans"]] == [
        (0, 3000, "paid")
    ]
    assert [a["status"] for a in detail["history"]["attempts"]] == ["succeeded"]
    assert "signed" in [e["kind"] for e in detail["history"]["events"]]


async def test_retry_with_the_same_key_replays_the_answer_and_starts_nothing(
    http: httpx.AsyncClient, sessions: SessionFactory, dev_server_env: WorkflowEnvironment, task_queue: str
) -> None:
    product_id = await create_product(http)
    devices = await register_devices(http, "alice", 2)

    first = await subscribe(http, "alice", product_id, devices, key="signup-1")
    again = await subscribe(http, "alice", product_id, devices, key="signup-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    counts = row_counts(sessions)
    assert counts["Contract"] == 1 and counts["IdempotencyRecord"] == 1
    ids = await eventually(lambda: workflows_on(dev_server_env.client, task_queue), lambda w: len(w) == 1)
    assert ids == [subscription_workflow_id(first.json()["id"])]

    other_body = await subscribe(http, "alice", product_id, devices[:1], key="signup-1")
    assert_problem(other_body, 422, "idempotency-key-reused", field="Idempotency-Key")
    assert row_counts(sessions) == counts


async def test_concurrent_duplicates_start_one_workflow(
    http: httpx.AsyncClient, sessions: SessionFactory, dev_server_env: WorkflowEnvironment, task_queue: str
) -> None:
    product_id = await create_product(http)
    devices = await register_devices(http, "alice", 1)

    answers = await asyncio.gather(
        *(subscribe(http, "alice", product_id, devices, key="twin") for _ in range(4))
    )

    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert row_counts(sessions)["Contract"] == 1
    assert len(await eventually(lambda: workflows_on(dev_server_env.client, task_queue), bool)) == 1


async def test_a_soft_first_decline_answers_202_then_the_retry_pays(http: httpx.AsyncClient) -> None:
    product_id = await create_product(http, dunning={"delays_seconds": [1], "max_attempts": 4})
    devices = await register_devices(http, "alice", 1)

    response = await subscribe(http, "alice", product_id, devices, token="sandbox_flaky_2")

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["periods_charged"] == 0
    assert body["last_decline"]["code"] == "insufficient_funds" and body["last_decline"]["kind"] == "soft"
    assert body["next_charge_at"] is not None

    async def current() -> dict[str, Any]:
        got = await http.get(f"/v1/subscriptions/{body['id']}", headers=user("alice"))
        detail: dict[str, Any] = got.json()
        return detail

    paid = await eventually(current, lambda d: d["status"] == "active", within=20)
    declines = paid["history"]["declines"]
    assert [d["attempt"] for d in declines] == [1, 2]


async def test_a_hard_first_decline_answers_402_and_entitles_nothing(
    http: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    product_id = await create_product(http)
    devices = await register_devices(http, "alice", 1)

    response = await subscribe(http, "alice", product_id, devices, token="sandbox_hard_decline", key="hard")

    problem = assert_problem(response, 402, "payment-declined")
    assert problem["code"] == "agreement_revoked"
    assert problem["subscription"]["status"] == "failed"
    seen = await http.get(f"/v1/devices/{devices[0]}/entitlements", headers=user("alice"))
    assert seen.json()["entitlements"] == []
    replay = await subscribe(http, "alice", product_id, devices, token="sandbox_hard_decline", key="hard")
    assert replay.status_code == 402 and replay.json() == problem


async def test_a_refused_agreement_answers_402_and_the_state_stays_readable(http: httpx.AsyncClient) -> None:
    product_id = await create_product(http)
    devices = await register_devices(http, "alice", 1)

    response = await subscribe(http, "alice", product_id, devices, token="sandbox_sign_declined")

    problem = assert_problem(response, 402, "agreement-rejected", field="payment.agreement_token")
    got = await http.get(f"/v1/subscriptions/{problem['subscription_id']}", headers=user("alice"))
    assert got.status_code == 200, got.text
    assert got.json()["status"] == "failed"
    listed = await http.get("/v1/subscriptions", headers=admin())
    assert listed.json()["items"] == []  # never signed: no contract


async def test_timezone_and_voucher_claim_reach_the_contract(http: httpx.AsyncClient) -> None:
    product_id = await create_product(http)
    devices = await register_devices(http, "alice", 1)
    body = signup_body(product_id, devices, timezone="Asia/Shanghai")

    response = await http.post("/v1/subscriptions", json=body, headers=keyed(user("alice")))

    assert response.status_code == 201, response.text


async def test_a_lost_answer_is_recomputed_from_the_same_workflow(
    http: httpx.AsyncClient, sessions: SessionFactory, dev_server_env: WorkflowEnvironment, task_queue: str
) -> None:
    product_id = await create_product(http)
    devices = await register_devices(http, "alice", 1)
    first = await subscribe(http, "alice", product_id, devices, token="sandbox_sign_declined", key="lost")
    assert_problem(first, 402, "agreement-rejected")
    # As if the API had crashed between the outcome and storing it: the reservation has no answer.
    with transaction(sessions) as session:
        session.execute(update(IdempotencyRecord).values(response_status=None, response_body={}))

    again = await subscribe(http, "alice", product_id, devices, token="sandbox_sign_declined", key="lost")

    assert again.status_code == 402 and again.json() == first.json()
    assert "Idempotent-Replayed" not in again.headers
    workflow_id = subscription_workflow_id(first.json()["subscription_id"])
    runs = [w async for w in dev_server_env.client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    assert len(runs) == 1
