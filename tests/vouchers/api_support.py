"""Voucher calls through the API, shared by the API and the browser tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from api.problems import PROBLEM_BASE, PROBLEM_JSON
from tests.api.support import admin

DAY = timedelta(days=1)


def voucher_body(**overrides: Any) -> dict[str, Any]:
    start = datetime.now(UTC) - DAY
    body: dict[str, Any] = {
        "name": "Spring camera promo",
        "type": "percent_off",
        "value": 20,
        "resource_type": "cloud_video_storage",
        "valid_from": start.isoformat(),
        "valid_until": (start + 30 * DAY).isoformat(),
        "stock": 2,
    }
    return body | overrides


async def created(http: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await http.post("/v1/vouchers", json=voucher_body(**overrides), headers=admin())
    assert response.status_code == 201, response.text
    voucher: dict[str, Any] = response.json()
    return voucher


async def enabled(http: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    voucher = await created(http, **overrides)
    response = await http.post(f"/v1/vouchers/{voucher['id']}/enable", headers=admin())
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_BASE + slug, body
    return body
