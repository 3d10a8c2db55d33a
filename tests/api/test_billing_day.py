"""Billing days through the API: a product aligned to a day, a signup choosing its own where the product
allows it, and every bad billing day or time zone refused with a 422 that says what is allowed, leaving
nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy.exc import IntegrityError
from temporalio.testing import WorkflowEnvironment

from infra.db import SessionFactory
from tests.api.support import (
    admin,
    assert_problem,
    create_product,
    keyed,
    product_body,
    register_devices,
    row_counts,
    signup_body,
    user,
    workflows_on,
)
from tests.support.factories import make_devices, make_product

PRODUCTS = "/v1/products"
SUBS = "/v1/subscriptions"
ALLOWED = "from 1 to 28"


@pytest.mark.parametrize(
    ("changes", "field", "code", "says"),
    [
        ({"billing_day": 0}, "billing_day", "invalid_billing_day", ALLOWED),
        ({"billing_day": 29}, "billing_day", "invalid_billing_day", ALLOWED),
        ({"billing_day": 31}, "billing_day", "invalid_billing_day", ALLOWED),
        ({"billing_day": 1}, "billing_day", "billing_day_needs_monthly_cycle", "P1M"),  # on P30D
        (
            {"billing_day": 1, "billing_cycle": "PT1M"},
            "billing_day",
            "billing_day_needs_monthly_cycle",
            "P1Y",
        ),
        (
            {"signup_billing_day_allowed": True},
            "signup_billing_day_allowed",
            "billing_day_needs_monthly_cycle",
            "P1M",
        ),
    ],
)
async def test_a_product_with_a_billing_day_it_cannot_have_is_refused(
    http: httpx.AsyncClient,
    sessions: SessionFactory,
    changes: dict[str, Any],
    field: str,
    code: str,
    says: str,
) -> None:
    before = row_counts(sessions)

    response = await http.post(PRODUCTS, json=product_body(**changes), headers=admin())

    problem = assert_problem(response, 422, "invalid-billing-day", field=field)
    assert problem["code"] == code and says in problem["detail"], problem
    assert row_counts(sessions) == before


@pytest.mark.parametrize("day", [0, 29, 31])
def test_the_database_refuses_a_day_outside_1_to_28_from_any_writer(
    sessions: SessionFactory, day: int
) -> None:
    with pytest.raises(IntegrityError, match="ck_products_billing_day"):
        make_product(sessions, cycle="P1M", billing_day=day)


async def test_a_product_keeps_its_billing_day_and_a_patch_changes_or_clears_it(
    http: httpx.AsyncClient,
) -> None:
    product_id = await create_product(http, billing_cycle="P1M", billing_day=1)
    monthly = f"{PRODUCTS}/{product_id}"

    moved = await http.patch(
        monthly, json={"billing_day": 15, "signup_billing_day_allowed": True}, headers=admin()
    )
    too_late = await http.patch(monthly, json={"billing_day": 31}, headers=admin())
    cleared = await http.patch(monthly, json={"billing_day": None}, headers=admin())
    daily = await create_product(http, billing_cycle="P30D")
    on_daily = await http.patch(f"{PRODUCTS}/{daily}", json={"billing_day": 5}, headers=admin())

    assert moved.status_code == 200, moved.text
    assert (moved.json()["billing_day"], moved.json()["signup_billing_day_allowed"]) == (15, True)
    assert_problem(too_late, 422, "invalid-billing-day", field="billing_day")
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["billing_day"], cleared.json()["signup_billing_day_allowed"]) == (None, True)
    problem = assert_problem(on_daily, 422, "invalid-billing-day", field="billing_day")
    assert problem["code"] == "billing_day_needs_monthly_cycle"
    listed = {p["id"]: p for p in (await http.get(PRODUCTS, headers=admin())).json()}
    assert listed[daily]["billing_day"] is None and listed[daily]["signup_billing_day_allowed"] is False


CHOOSABLE = {"cycle": "P1M", "signup_billing_day_allowed": True}
ON_THE_1ST = {"cycle": "P1M", "billing_day": 1}
# Only a product written around the API can allow this; signing's own check still refuses it.
CHOOSABLE_DAILY = {"cycle": "P30D", "signup_billing_day_allowed": True}


@pytest.mark.parametrize(
    ("product", "signup", "code", "says"),
    [
        (CHOOSABLE, {"billing_day": 0}, "invalid_billing_day", ALLOWED),
        (CHOOSABLE, {"billing_day": 29}, "invalid_billing_day", ALLOWED),
        (CHOOSABLE, {"billing_day": 31}, "invalid_billing_day", ALLOWED),
        (ON_THE_1ST, {"billing_day": 15}, "billing_day_not_allowed", "day 1"),
        ({"cycle": "P1M"}, {"billing_day": 15}, "billing_day_not_allowed", "anniversary"),
        (CHOOSABLE_DAILY, {"billing_day": 1}, "billing_day_needs_monthly_cycle", "P1M"),
        (ON_THE_1ST, {"timezone": "Mars/Olympus_Mons"}, "unknown_timezone", "IANA"),
        (ON_THE_1ST, {"timezone": "Europe/Atlantis"}, "unknown_timezone", "Europe/Berlin"),
    ],
)
async def test_a_signup_with_a_bad_billing_day_or_zone_is_refused_and_starts_nothing(
    http: httpx.AsyncClient,
    sessions: SessionFactory,
    dev_server_env: WorkflowEnvironment,
    task_queue: str,
    product: dict[str, Any],
    signup: dict[str, Any],
    code: str,
    says: str,
) -> None:
    product_id = make_product(sessions, **product)
    devices = make_devices(sessions, owner="alice", count=1)
    before = row_counts(sessions)

    response = await http.post(
        SUBS, json=signup_body(str(product_id), list(devices), **signup), headers=keyed(user("alice"))
    )

    [field] = signup
    slug = "unknown-timezone" if field == "timezone" else "invalid-billing-day"
    problem = assert_problem(response, 422, slug, field=field)
    assert problem["code"] == code and says in problem["detail"], problem
    assert row_counts(sessions) == before
    assert await workflows_on(dev_server_env.client, task_queue) == []


def _billing_day_ahead(tz: str) -> int:
    """A billing day at least two days ahead of today in `tz`, so the first period is prorated."""
    today = datetime.now(ZoneInfo(tz)).day
    return 20 if 8 <= today <= 11 else 10


def _next_midnight_on(day: int, after: datetime, tz: str) -> datetime:
    shown = after.astimezone(ZoneInfo(tz))
    midnight = shown.replace(day=day, hour=0, minute=0, second=0, microsecond=0)
    return (midnight if midnight > shown else midnight + relativedelta(months=1)).astimezone(UTC)


@pytest.mark.usefixtures("worker")
async def test_a_signups_own_billing_day_gives_a_prorated_first_period_up_to_it(
    http: httpx.AsyncClient,
) -> None:
    tz = "Asia/Shanghai"
    product_id = await create_product(
        http,
        billing_cycle="P1M",
        billing_day=1,
        signup_billing_day_allowed=True,
        unit_price={"amount_minor": 3100, "currency": "CNY"},
    )
    devices = await register_devices(http, "alice", 1)
    day = _billing_day_ahead(tz)
    body = signup_body(product_id, devices, timezone=tz, billing_day=day)

    response = await http.post(SUBS, json=body, headers=keyed(user("alice")))

    assert response.status_code == 201, response.text
    answer = response.json()
    detail = (await http.get(f"{SUBS}/{answer['id']}", headers=user("alice"))).json()
    [plan] = detail["history"]["plans"]
    signed = datetime.fromisoformat(plan["period_start"])
    end = datetime.fromisoformat(plan["period_end"])
    assert end == _next_midnight_on(day, signed, tz) == datetime.fromisoformat(answer["paid_through"])
    assert end.astimezone(ZoneInfo(tz)).hour == 0
    assert 0 < plan["amount_minor"] == plan["gross_minor"] < 3100
    assert plan["unit_price_minor"] == 3100
    listed = (await http.get(SUBS, headers=admin())).json()["items"]
    assert [(s["id"], s["billing_day"]) for s in listed] == [(answer["id"], day)]
