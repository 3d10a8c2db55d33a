"""The operator console and the client demo page in a real browser (headless Chromium via Playwright)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Page, async_playwright, expect

from tests.api.support import ADMIN_TOKEN, admin, keyed, user
from tests.vouchers.api_support import enabled
from tests.vouchers.browser import CHROMIUM_ARGS, chromium_path, served

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def page(app: FastAPI) -> AsyncIterator[tuple[Page, str]]:
    executable = chromium_path()
    async with served(app) as base_url, async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        context = await browser.new_context(timezone_id="UTC", locale="en-GB")
        tab = await context.new_page()
        tab.set_default_timeout(10_000)
        try:
            yield tab, base_url
        finally:
            await browser.close()


def minute(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


async def test_the_operator_console_configures_and_runs_a_voucher(
    page: tuple[Page, str], http: httpx.AsyncClient
) -> None:
    tab, base_url = page
    await tab.goto(f"{base_url}/pages/vouchers")
    await tab.fill("#token", ADMIN_TOKEN)
    await tab.dispatch_event("#token", "change")
    await tab.click("#load")
    await expect(tab.locator("#message")).to_have_text("vouchers loaded")

    now = datetime.now(UTC)
    form = tab.locator("#form")
    await form.locator("[name=name]").fill("Console promo")
    await form.locator("[name=value]").fill("120")
    await form.locator("[name=valid_from]").fill(minute(now - timedelta(hours=1)))
    await form.locator("[name=valid_until]").fill(minute(now + timedelta(days=30)))
    await form.locator("[name=stock]").fill("5")
    await tab.click("#save")
    await expect(tab.locator("#message [data-code=percent_over_100]")).to_be_visible()

    await form.locator("[name=value]").fill("30")
    await tab.click("#save")
    row = tab.locator("tr[data-name='Console promo']")
    await expect(row.locator(".status")).to_have_text("draft")

    await row.locator("[data-action=edit]").click()
    await form.locator("[name=name]").fill("Console promo (spring)")
    await tab.click("#save")
    row = tab.locator("tr[data-name='Console promo (spring)']")
    await expect(row.locator(".status")).to_have_text("draft")

    await row.locator("[data-action=enable]").click()
    await expect(row.locator(".status")).to_have_text("enabled")
    voucher_id = await row.get_attribute("data-voucher")
    claimed = await http.post(f"/v1/vouchers/{voucher_id}/claims", headers=keyed(user("alice")))
    assert claimed.status_code == 201

    # Once enabled, only safe fields may change: a locked one is refused with its code.
    await row.locator("[data-action=edit]").click()
    await form.locator("[name=value]").fill("50")
    await tab.click("#save")
    await expect(tab.locator("#message [data-code=fields_locked]")).to_be_visible()
    await tab.click("#cancel-edit")

    await tab.click("#load")
    await row.locator("[data-action=funnel]").click()
    await expect(tab.locator("#funnel [data-stage=claimed]")).to_have_text("claimed 1")
    await row.locator("[data-action=terminate]").click()
    await expect(row.locator(".status")).to_have_text("terminated")
    detail = (await http.get(f"/v1/vouchers/{voucher_id}", headers=admin())).json()
    assert (detail["status"], detail["claimed_count"], detail["value"]) == ("terminated", 1, 30)


async def test_the_client_page_shows_the_claim_popup_and_claims(
    page: tuple[Page, str], http: httpx.AsyncClient
) -> None:
    tab, base_url = page
    voucher = await enabled(http, name="Doorbell week", stock=10)
    token = user("dora")["Authorization"].removeprefix("Bearer ")
    await tab.goto(f"{base_url}/pages/vouchers/client#token={token}")

    popup = tab.locator("#popup")
    await expect(popup).to_be_visible()
    offer = popup.locator(f".offer[data-voucher='{voucher['id']}']")
    await expect(offer).to_contain_text("Doorbell week")
    await expect(offer).to_contain_text("20% off")
    await offer.locator("[data-action=claim]").click()
    await expect(tab.locator("#message")).to_have_text("Claimed: Doorbell week")
    await expect(popup).to_be_hidden()
    await expect(tab.locator("#claims tr .status")).to_have_text(["claimed"])

    await tab.click("#open")
    await expect(tab.locator("#message")).to_have_text("No vouchers for you right now")
    await expect(popup).to_be_hidden()
    detail = (await http.get(f"/v1/vouchers/{voucher['id']}", headers=admin())).json()
    assert (detail["pushed_count"], detail["claimed_count"]) == (1, 1)
