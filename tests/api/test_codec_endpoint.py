"""The codec server the Temporal UI and CLI call: operators only, CORS for the UI's origin alone."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from api import operator_session
from api.app import create_app
from infra.codec import ENCODING
from tests.api.support import admin, api_client, api_settings, assert_problem, user

UI_ORIGIN = "http://127.0.0.1:8233"
SECRET = b'"agreement-token-5678"'


def body(*payloads: Payload) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


def plain() -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=SECRET)


async def test_an_operator_encodes_and_decodes_through_the_endpoints() -> None:
    app = create_app(api_settings("tq-unused", codec_cors_origins=UI_ORIGIN))
    async with api_client(app) as http:
        encoded = await http.post("/codec/encode", content=body(plain()), headers=admin())
        assert encoded.status_code == 200, encoded.text
        [sealed] = encoded.json()["payloads"]
        assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCODING
        assert SECRET not in base64.b64decode(sealed["data"])

        decoded = await http.post("/codec/decode", content=encoded.text, headers=admin())
        assert decoded.status_code == 200, decoded.text
        assert json_format.Parse(decoded.text, Payloads()).payloads == [plain()]
        # A payload from before the codec comes back as it was.
        passed = await http.post("/codec/decode", content=body(plain()), headers=admin())
        assert json_format.Parse(passed.text, Payloads()).payloads == [plain()]


async def test_decoding_needs_the_operator_and_answers_the_ui_origin_either_way() -> None:
    app = create_app(api_settings("tq-unused", codec_cors_origins=UI_ORIGIN))
    async with api_client(app) as http:
        encoded = (await http.post("/codec/encode", content=body(plain()), headers=admin())).text
        origin = {"Origin": UI_ORIGIN}

        anonymous = await http.post("/codec/decode", content=encoded, headers=origin)
        assert_problem(anonymous, 401, "authentication-required")
        assert anonymous.headers["access-control-allow-origin"] == UI_ORIGIN
        assert SECRET not in anonymous.content

        as_user = await http.post("/codec/decode", content=encoded, headers=origin | user("u-1"))
        assert as_user.status_code == 403
        wrong = await http.post("/codec/decode", content=encoded, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401

        operator = await http.post("/codec/decode", content=encoded, headers=origin | admin())
        assert operator.status_code == 200
        assert operator.headers["access-control-allow-origin"] == UI_ORIGIN
        assert operator.headers["access-control-allow-credentials"] == "true"


async def test_the_preflight_admits_the_ui_origin_and_no_other() -> None:
    app = create_app(api_settings("tq-unused", codec_cors_origins=UI_ORIGIN))
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    async with api_client(app) as http:
        allowed = await http.options("/codec/decode", headers=preflight | {"Origin": UI_ORIGIN})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == UI_ORIGIN
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()

        stranger = await http.options("/codec/decode", headers=preflight | {"Origin": "http://evil.test"})
        assert "access-control-allow-origin" not in stranger.headers
        # The rest of the API stays same-origin.
        products = await http.get("/v1/products", headers={"Origin": UI_ORIGIN})
        assert "access-control-allow-origin" not in products.headers


async def test_an_operator_session_cookie_lets_the_ui_decode_and_nothing_else() -> None:
    app = create_app(api_settings("tq-unused", codec_cors_origins=UI_ORIGIN))
    async with api_client(app) as http:
        encoded = (await http.post("/codec/encode", content=body(plain()), headers=admin())).text
        refused = await http.post("/operator/session", headers=user("u-1"))
        assert refused.status_code == 403
        assert operator_session.COOKIE not in http.cookies

        opened = await http.post("/operator/session", headers=admin())
        assert opened.status_code == 204
        cookie = opened.headers["set-cookie"].lower()
        assert "httponly" in cookie and "path=/codec" in cookie and "samesite=lax" in cookie
        assert operator_session.COOKIE in http.cookies

        decoded = await http.post("/codec/decode", content=encoded, headers={"Origin": UI_ORIGIN})
        assert decoded.status_code == 200, decoded.text
        assert json_format.Parse(decoded.text, Payloads()).payloads == [plain()]
        assert decoded.headers["access-control-allow-credentials"] == "true"
        # The cookie is the codec's alone: the admin API still wants the token.
        webhooks = await http.get("/v1/webhook-endpoints")
        assert_problem(webhooks, 401, "authentication-required")

        closed = await http.delete("/operator/session")
        assert closed.status_code == 204
        assert operator_session.COOKIE not in http.cookies
        after = await http.post("/codec/decode", content=encoded)
        assert_problem(after, 401, "authentication-required")


async def test_a_forged_expired_or_orphaned_session_is_refused() -> None:
    settings = api_settings("tq-unused", codec_cors_origins=UI_ORIGIN)
    token = settings.admin_token.get_secret_value()
    now = datetime.now(UTC)
    sessions = {
        "forged": f"{int(now.timestamp()) + 3600}.{'0' * 64}",
        "expired": operator_session.issue(token, now - timedelta(hours=9), timedelta(hours=8)),
        "another admin token's": operator_session.issue("a-rotated-away-token", now, timedelta(hours=8)),
        "garbled": "not-a-session",
    }
    app = create_app(settings)
    async with api_client(app) as http:
        encoded = (await http.post("/codec/encode", content=body(plain()), headers=admin())).text
        for kind, value in sessions.items():
            answer = await http.post(
                "/codec/decode", content=encoded, headers={"Cookie": f"{operator_session.COOKIE}={value}"}
            )
            assert_problem(answer, 401, "invalid-token")
            assert SECRET not in answer.content, kind
