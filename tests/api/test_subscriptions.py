"""Running subscriptions through the API: cancel, device-group changes, unbinding, who sees what."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.support import (
    admin,
    assert_problem,
    create_product,
    eventually,
    register_devices,
    subscribe,
    user,
)

pytestmark = pytest.mark.usefixtures("worker")


async def _active(http: httpx.AsyncClient, owner: str, devices: int = 2) -> tuple[str, list[str], str]:
    product_id = await create_product(http)
    device_ids = await register_devices(http, owner, devices)
    response = await subscribe(http, owner, product_id, device_ids)
    assert response.status_code == 201, response.text
    return response.json()["id"], device_ids, product_id


async def _entitled(http: httpx.AsyncClient, device_id: str) -> list[dict[str, Any]]:
    response = await http.get(f"/v1/devices/{device_id}/entitlements", headers=admin())
    assert response.status_code == 200, response.text
    entitlements: list[dict[str, Any]] = response.json()["entitlements"]
    return entitlements


async def test_cancel_at_period_end_keeps_entitlements_until_paid_through(http: httpx.AsyncClient) -> None:
    sub_id, devices, _ = await _active(http, "alice")

    response = await http.post(f"/v1/subscriptions/{sub_id}/cancel", json={}, headers=user("alice"))

    assert response.status_code == 200, response.text
    state = response.json()
    assert state["status"] == "canceling" and state["cancel_mode"] == "at_period_end"
    assert state["next_charge_at"] is None
    [entitlement] = await _entitled(http, devices[0])
    assert entitlement["valid_until"] == state["paid_through"]


async def test_cancel_immediately_revokes_now_and_a_second_cancel_conflicts(http: httpx.AsyncClient) -> None:
    sub_id, devices, _ = await _active(http, "alice")

    response = await http.post(
        f"/v1/subscriptions/{sub_id}/cancel", json={"mode": "immediately"}, headers=user("alice")
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "canceled"
    assert await _entitled(http, devices[0]) == []
    detail = (await http.get(f"/v1/subscriptions/{sub_id}", headers=user("alice"))).json()
    assert detail["status"] == "canceled" and detail["source"] == "database"
    assert "canceled" in [e["kind"] for e in detail["history"]["events"]]
    again = await http.post(f"/v1/subscriptions/{sub_id}/cancel", headers=admin())
    assert_problem(again, 409, "subscription-ended")


async def test_devices_join_and_leave_the_group_from_the_next_period(http: httpx.AsyncClient) -> None:
    sub_id, devices, _ = await _active(http, "alice")
    [extra] = await register_devices(http, "alice", 1)

    added = await http.post(
        f"/v1/subscriptions/{sub_id}/devices", json={"device_ids": [extra]}, headers=user("alice")
    )
    removed = await http.delete(f"/v1/subscriptions/{sub_id}/devices/{devices[0]}", headers=user("alice"))

    assert added.status_code == 200, added.text
    assert added.json()["pending_additions"] == [extra]
    assert removed.status_code == 200, removed.text
    assert removed.json()["pending_removals"] == [devices[0]]
    assert removed.json()["device_ids"] == devices  # both still in this (paid) period

    twice = await http.post(
        f"/v1/subscriptions/{sub_id}/devices", json={"device_ids": [devices[1]]}, headers=user("alice")
    )
    assert_problem(twice, 409, "device-already-in-group", field="device_ids")
    [stranger] = await register_devices(http, "alice", 1)
    absent = await http.delete(f"/v1/subscriptions/{sub_id}/devices/{stranger}", headers=user("alice"))
    assert_problem(absent, 409, "device-not-in-group", field="device_id")


async def test_adding_devices_checks_them_in_the_database_first(http: httpx.AsyncClient) -> None:
    sub_id, _, product_id = await _active(http, "alice")
    [bobs] = await register_devices(http, "bob", 1)
    [taken] = await register_devices(http, "alice", 1)
    other = await subscribe(http, "alice", product_id, [taken])
    assert other.status_code == 201, other.text

    foreign = await http.post(
        f"/v1/subscriptions/{sub_id}/devices", json={"device_ids": [bobs]}, headers=user("alice")
    )
    elsewhere = await http.post(
        f"/v1/subscriptions/{sub_id}/devices", json={"device_ids": [taken]}, headers=user("alice")
    )

    assert_problem(foreign, 422, "unknown-device", field="device_ids")
    assert_problem(elsewhere, 409, "device-already-subscribed", field="device_ids")


async def test_unbinding_a_device_signals_every_subscription_holding_it(http: httpx.AsyncClient) -> None:
    sub_id, devices, _ = await _active(http, "alice")

    response = await http.post(f"/v1/devices/{devices[0]}/unbind", headers=admin())

    assert response.status_code == 200, response.text
    assert response.json()["device"]["status"] == "unbound"
    assert response.json()["signaled_subscriptions"] == [sub_id]

    async def state() -> dict[str, Any]:
        got: dict[str, Any] = (await http.get(f"/v1/subscriptions/{sub_id}", headers=admin())).json()
        return got

    await eventually(state, lambda s: s["pending_removals"] == [devices[0]])


async def test_users_never_see_or_change_each_others_subscriptions(http: httpx.AsyncClient) -> None:
    sub_id, devices, _ = await _active(http, "alice")
    bob = user("bob")

    assert_problem(await http.get(f"/v1/subscriptions/{sub_id}", headers=bob), 404, "subscription-not-found")
    assert_problem(
        await http.post(f"/v1/subscriptions/{sub_id}/cancel", headers=bob), 404, "subscription-not-found"
    )
    assert_problem(
        await http.delete(f"/v1/subscriptions/{sub_id}/devices/{devices[0]}", headers=bob),
        404,
        "subscription-not-found",
    )
    assert_problem(
        await http.get(f"/v1/devices/{devices[0]}/entitlements", headers=bob), 404, "device-not-found"
    )
    assert (await http.get("/v1/subscriptions", headers=bob)).json()["items"] == []
    still = await http.get(f"/v1/subscriptions/{sub_id}", headers=user("alice"))
    assert still.json()["status"] == "active"


async def test_admin_lists_everyone_and_filters_by_user_and_status(http: httpx.AsyncClient) -> None:
    alices, _, _ = await _active(http, "alice", devices=1)
    bobs, _, _ = await _active(http, "bob", devices=1)
    canceled = await http.post(
        f"/v1/subscriptions/{bobs}/cancel", json={"mode": "immediately"}, headers=admin()
    )
    assert canceled.status_code == 200, canceled.text

    async def ids(query: str, headers: dict[str, str]) -> set[str]:
        response = await http.get(f"/v1/subscriptions{query}", headers=headers)
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert await ids("", admin()) == {alices, bobs}
    assert await ids("?user_id=bob", admin()) == {bobs}
    assert await ids("?status=active", admin()) == {alices}
    assert await ids("?status=canceled&user_id=bob", admin()) == {bobs}
    assert await ids("?user_id=bob", user("alice")) == {alices}  # a user's filter is themself
