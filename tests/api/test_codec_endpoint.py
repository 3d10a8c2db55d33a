"""The codec server the Temporal UI and CLI call: operators only, CORS for the UI's origin alone."""

from __future__ import annotations

import base64

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

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
