"""The voucher API end to end on the dev server: a campaign from configuration to termination, and the
precise problem answers for bad definitions and refused claims."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.services.voucher_lifecycle import LifecycleHandle
from infra.db import SessionFactory
from tests.api.support import admin, create_product, keyed, user
from tests.vouchers.api_support import DAY, created, enabled, problem, voucher_body
from tests.vouchers.lifecycle_support import lifecycle_worker
from workflows.search_attributes import VOUCHER_STATUS
from workflows.voucher_lifecycle import VoucherLifecycleWorkflow


async def test_a_campaign_from_configuration_to_termination(
    http: httpx.AsyncClient, dev_server_env: WorkflowEnvironment, sessions: SessionFactory, task_queue: str
) -> None:
    product_id = await create_product(http)
    voucher = await created(http, product_ids=[product_id])
    assert (voucher["status"], voucher["workflow_id"], voucher["duration_periods"]) == ("draft", None, 1)
    renamed = await http.patch(
        f"/v1/vouchers/{voucher['id']}", json={"name": "Spring promo"}, headers=admin()
    )
    assert renamed.json()["name"] == "Spring promo"

    async with lifecycle_worker(dev_server_env, sessions=sessions, task_queue=task_queue):
        response = await http.post(f"/v1/vouchers/{voucher['id']}/enable", headers=admin())
        assert response.json()["status"] == "enabled"
        handle: LifecycleHandle = dev_server_env.client.get_workflow_handle_for(
            VoucherLifecycleWorkflow.run, response.json()["workflow_id"]
        )
        assert (await handle.describe()).typed_search_attributes.get(VOUCHER_STATUS) == "enabled"

        offers = (await http.get("/v1/me/voucher-offers", headers=user("alice"))).json()
        assert [(o["voucher_id"], o["stock_left"], o["claims_left"]) for o in offers["offers"]] == [
            (voucher["id"], 2, 1)
        ]
        alice = keyed(user("alice"), "alice-1")
        first = await http.post(f"/v1/vouchers/{voucher['id']}/claims", headers=alice)
        again = await http.post(f"/v1/vouchers/{voucher['id']}/claims", headers=alice)
        assert first.status_code == again.status_code == 201
        assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
        assert (
            await http.post(f"/v1/vouchers/{voucher['id']}/claims", headers=keyed(user("bob")))
        ).is_success
        sold_out = await http.post(f"/v1/vouchers/{voucher['id']}/claims", headers=keyed(user("carol")))
        assert problem(sold_out, 409, "voucher-sold-out")["code"] == "sold_out"
        mine = (await http.get("/v1/me/voucher-claims", headers=user("alice"))).json()["items"]
        assert [(c["voucher_name"], c["status"]) for c in mine] == [("Spring promo", "claimed")]

        funnel = (await http.get(f"/v1/vouchers/{voucher['id']}", headers=admin())).json()["funnel"]
        assert funnel == {
            "pushed": 1,
            "claimed": 2,
            "redeemed": 0,
            "claim_rate": 2.0,
            "redemption_rate": 0.0,
            "stock_left": 0,
        }
        stopped = await http.post(
            f"/v1/vouchers/{voucher['id']}/terminate", json={"reason": "budget spent"}, headers=admin()
        )
        assert (stopped.json()["status"], stopped.json()["termination_reason"]) == (
            "terminated",
            "budget spent",
        )
        assert (await handle.result()).status == "terminated"
    assert (await handle.describe()).typed_search_attributes.get(VOUCHER_STATUS) == "terminated"
    expired = (await http.get("/v1/me/voucher-claims", headers=user("alice"))).json()["items"]
    assert [c["status"] for c in expired] == ["expired"]
    listed = (await http.get("/v1/vouchers?status=terminated", headers=admin())).json()["items"]
    assert [v["id"] for v in listed] == [voucher["id"]]


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"valid_until": "2020-01-01T00:00:00Z"}, "valid_until", "validity_window_out_of_order"),
        (
            {
                "claim_ends_at": (datetime.now(UTC) + 20 * DAY).isoformat(),
                "use_ends_at": (datetime.now(UTC) + 10 * DAY).isoformat(),
            },
            "use_ends_at",
            "use_window_ends_before_claim_window",
        ),
        ({"value": 120}, "value", "percent_over_100"),
        ({"product_ids": [str(uuid.uuid4())]}, "product_ids[0]", "unknown_product"),
        ({"type": "amount_off", "value": 500}, "currency", "currency_required"),
    ],
)
async def test_invalid_definitions_get_precise_problems(
    http: httpx.AsyncClient, overrides: dict[str, Any], field: str, code: str
) -> None:
    body = problem(
        await http.post("/v1/vouchers", json=voucher_body(**overrides), headers=admin()),
        422,
        "invalid-voucher",
    )
    assert (body["field"], body["code"]) == (field, code)
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in body["errors"]
    ]
    assert (await http.get("/v1/vouchers", headers=admin())).json()["items"] == []


async def test_shape_errors_auth_and_state_conflicts(http: httpx.AsyncClient) -> None:
    naive = voucher_body(valid_from="2026-01-01T00:00:00")
    assert problem(await http.post("/v1/vouchers", json=naive, headers=admin()), 422, "validation-error")
    assert problem(
        await http.post("/v1/vouchers", json=voucher_body(), headers=user("alice")), 403, "admin-required"
    )
    assert problem(await http.get("/v1/me/voucher-offers"), 401, "authentication-required")
    assert problem(await http.get(f"/v1/vouchers/{uuid.uuid4()}", headers=admin()), 404, "voucher-not-found")

    draft = await created(http)
    refused = await http.post(f"/v1/vouchers/{draft['id']}/claims", headers=keyed(user("alice")))
    problem(refused, 404, "voucher-not-found")
    missing_key = await http.post(f"/v1/vouchers/{draft['id']}/claims", headers=user("alice"))
    problem(missing_key, 400, "idempotency-key-required")


async def test_enabled_vouchers_refuse_unsafe_edits_and_stock_below_claims(
    http: httpx.AsyncClient, dev_server_env: WorkflowEnvironment
) -> None:
    voucher = await enabled(http, stock=3)
    url = f"/v1/vouchers/{voucher['id']}"
    for name in ("alice", "bob"):
        assert (await http.post(f"{url}/claims", headers=keyed(user(name)))).status_code == 201
    locked = problem(
        await http.patch(url, json={"value": 50}, headers=admin()), 409, "voucher-state-conflict"
    )
    assert locked["code"] == "fields_locked"
    below = problem(await http.patch(url, json={"stock": 1}, headers=admin()), 422, "invalid-voucher")
    assert (below["field"], below["code"]) == ("stock", "stock_below_claimed")
    assert (await http.patch(url, json={"stock": 2}, headers=admin())).json()["stock"] == 2
    # A refused claim does not spend its key; a successful one does, for that request only.
    assert (await http.post(f"{url}/claims", headers=keyed(user("carol"), "carol-1"))).status_code == 409
    other, third = await enabled(http), await enabled(http)
    took = await http.post(f"/v1/vouchers/{other['id']}/claims", headers=keyed(user("carol"), "carol-1"))
    assert took.status_code == 201
    twice = await http.post(f"/v1/vouchers/{third['id']}/claims", headers=keyed(user("carol"), "carol-1"))
    problem(twice, 422, "idempotency-key-reused")
