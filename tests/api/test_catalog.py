"""Catalog administration: products and device registration."""

from __future__ import annotations

import httpx

from tests.api.support import admin, assert_problem, create_product, product_body


async def test_product_round_trip_and_price_change_bumps_the_version(http: httpx.AsyncClient) -> None:
    product_id = await create_product(http, billing_cycle="PT1M", max_devices=3)

    renamed = await http.patch(f"/v1/products/{product_id}", json={"name": "Demo"}, headers=admin())
    repriced = await http.patch(
        f"/v1/products/{product_id}",
        json={"unit_price": {"amount_minor": 1800, "currency": "CNY"}},
        headers=admin(),
    )
    listed = await http.get("/v1/products", headers=admin())

    assert renamed.status_code == 200 and renamed.json()["price_version"] == 1
    assert repriced.status_code == 200, repriced.text
    assert repriced.json()["price_version"] == 2
    assert repriced.json()["unit_price"] == {"amount_minor": 1800, "currency": "CNY"}
    [product] = listed.json()
    assert product["name"] == "Demo" and product["billing_cycle"] == "PT1M" and product["max_devices"] == 3
    assert product["dunning"] == {"delays_seconds": [1], "max_attempts": 4}


async def test_products_filter_by_status_and_a_discontinued_one_stays_listed(http: httpx.AsyncClient) -> None:
    kept = await create_product(http)
    dropped = await create_product(http)
    response = await http.patch(f"/v1/products/{dropped}", json={"status": "discontinued"}, headers=admin())
    assert response.status_code == 200, response.text

    active = await http.get("/v1/products?status=active", headers=admin())
    everything = await http.get("/v1/products", headers=admin())

    assert [p["id"] for p in active.json()] == [kept]
    assert {p["id"] for p in everything.json()} == {kept, dropped}


async def test_defaults_fill_an_omitted_dunning_policy(http: httpx.AsyncClient) -> None:
    body = product_body()
    del body["dunning"], body["max_devices"]

    response = await http.post("/v1/products", json=body, headers=admin())

    assert response.status_code == 201, response.text
    assert response.json()["max_devices"] == 10
    assert response.json()["dunning"]["max_attempts"] == 4


async def test_device_registration_is_idempotent_per_owner_and_transfers_after_unbinding(
    http: httpx.AsyncClient,
) -> None:
    device = {"id": "cam-42", "owner_user_id": "alice", "name": "porch"}

    first = await http.post("/v1/devices", json=device, headers=admin())
    again = await http.post("/v1/devices", json=device, headers=admin())
    taken = await http.post("/v1/devices", json={**device, "owner_user_id": "bob"}, headers=admin())
    unbound = await http.post("/v1/devices/cam-42/unbind", headers=admin())
    moved = await http.post("/v1/devices", json={**device, "owner_user_id": "bob"}, headers=admin())

    assert first.status_code == 201 and again.status_code == 200
    assert_problem(taken, 409, "device-owned-by-another-user", field="id")
    assert unbound.status_code == 200 and unbound.json()["signaled_subscriptions"] == []
    assert moved.status_code == 200, moved.text
    assert moved.json()["owner_user_id"] == "bob" and moved.json()["status"] == "bound"


async def test_renewal_notice_defaults_by_cycle_and_can_be_changed_or_turned_off(
    http: httpx.AsyncClient,
) -> None:
    monthly = await create_product(http, billing_cycle="P1M")
    thirty_days = await create_product(http, billing_cycle="P30D")
    weekly = await create_product(http, billing_cycle="P1W")
    weekly_told = await create_product(http, billing_cycle="P1W", renewal_notice="P1D")
    monthly_silent = await create_product(http, billing_cycle="P1M", renewal_notice=None)

    longer = await http.patch(f"/v1/products/{monthly}", json={"renewal_notice": "P7D"}, headers=admin())
    off = await http.patch(f"/v1/products/{thirty_days}", json={"renewal_notice": None}, headers=admin())
    kept = await http.patch(f"/v1/products/{weekly_told}", json={"name": "Weekly"}, headers=admin())
    listed = {p["id"]: p["renewal_notice"] for p in (await http.get("/v1/products", headers=admin())).json()}

    assert longer.status_code == off.status_code == kept.status_code == 200, (longer.text, off.text)
    assert listed == {
        monthly: "P7D",
        thirty_days: None,
        weekly: None,
        weekly_told: "P1D",
        monthly_silent: None,
    }


async def test_renewal_notice_not_shorter_than_the_cycle_is_refused_by_name(http: httpx.AsyncClient) -> None:
    product_id = await create_product(http, billing_cycle="PT1M", renewal_notice="PT30S")

    created = await http.post(
        "/v1/products", json=product_body(billing_cycle="PT1M", renewal_notice="PT60S"), headers=admin()
    )
    patched = await http.patch(f"/v1/products/{product_id}", json={"renewal_notice": "PT1M"}, headers=admin())
    after = (await http.get("/v1/products", headers=admin())).json()

    for refused in (created, patched):
        body = assert_problem(refused, 422, "invalid-renewal-notice", field="renewal_notice")
        assert "shorter than the billing cycle" in body["detail"], body
    assert [p["renewal_notice"] for p in after] == ["PT30S"]
