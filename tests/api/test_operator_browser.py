"""The Temporal UI's codec calls in a real browser: after the operator signs in on the API's page, a page on
another origin (standing in for the UI) decodes with `credentials: "include"` and no Authorization header,
which is all the UI can send."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from google.protobuf import json_format
from playwright.async_api import Page, async_playwright, expect
from temporalio.api.common.v1 import Payload, Payloads

from api.app import create_app
from tests.api.support import ADMIN_TOKEN, admin, api_client, api_settings
from tests.vouchers.browser import CHROMIUM_ARGS, chromium_path, served

pytestmark = pytest.mark.timeout(90)

SECRET = b'"agreement-token-in-the-browser"'
UI_FETCH = """async ([url, body]) => {
  const answer = await fetch(url, {
    method: "POST", credentials: "include", headers: {"Content-Type": "application/json"}, body,
  });
  return {status: answer.status, text: await answer.text()};
}"""


async def _decode_from(tab: Page, ui_url: str, codec_url: str, body: str) -> tuple[int, str]:
    await tab.goto(ui_url)
    answer = await tab.evaluate(UI_FETCH, [f"{codec_url}/codec/decode", body])
    return int(answer["status"]), str(answer["text"])


async def test_the_ui_origin_decodes_once_the_operator_has_signed_in() -> None:
    executable = chromium_path()
    plain = Payload(metadata={"encoding": b"json/plain"}, data=SECRET)
    async with served(FastAPI()) as ui_url:
        app = create_app(api_settings("tq-unused", codec_cors_origins=ui_url))
        async with api_client(app) as http:
            sealed = await http.post(
                "/codec/encode",
                content=json_format.MessageToJson(Payloads(payloads=[plain])),
                headers=admin(),
            )
        async with served(app) as api_url, async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
            try:
                tab = await browser.new_page()
                tab.set_default_timeout(10_000)
                before, _ = await _decode_from(tab, ui_url, api_url, sealed.text)
                assert before == 401

                await tab.goto(f"{api_url}/operator")
                await tab.fill("#token", "not-the-admin-token")
                await tab.click("button[type=submit]")
                await expect(tab.locator("#message.error")).to_be_visible()
                await tab.fill("#token", ADMIN_TOKEN)
                await tab.click("button[type=submit]")
                await expect(tab.locator("#message")).to_contain_text("Signed in")

                status, text = await _decode_from(tab, ui_url, api_url, sealed.text)
                assert status == 200, text
                assert json_format.Parse(text, Payloads()).payloads == [plain]

                await tab.goto(f"{api_url}/operator")
                await tab.click("#sign-out")
                await expect(tab.locator("#message")).to_have_text("Signed out.")
                after, _ = await _decode_from(tab, ui_url, api_url, sealed.text)
                assert after == 401
            finally:
                await browser.close()
