"""The codec server of the Temporal Web UI and the `temporal` CLI: they POST encrypted payloads to
`/codec/decode` and show what comes back (`/codec/encode` is the reverse, for the CLI's inputs). The
body is the protobuf JSON form of `Payloads`, `{"payloads": [{"metadata": {...}, "data": "..."}]}` with
bytes in base64. Operators only (the admin token, or the session cookie a browser gets at `/operator`):
decoded payloads carry agreement tokens and user ids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from fastapi import APIRouter, Request, Response
from google.protobuf import json_format
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload, Payloads

from api.auth import OperatorDep
from api.deps import Runtime, RuntimeDep
from api.problems import MALFORMED_BODY, problem_responses

PREFIX = "/codec"

router = APIRouter(prefix=PREFIX, tags=["codec"])


@router.post("/decode", responses=problem_responses(400, 401, 403))
async def decode(request: Request, _operator: OperatorDep, runtime: RuntimeDep) -> Response:
    """Decrypt payloads for display (payloads that were never encrypted come back as they are)."""
    return await _transcode(request, runtime, "decode")


@router.post("/encode", responses=problem_responses(400, 401, 403))
async def encode(request: Request, _operator: OperatorDep, runtime: RuntimeDep) -> Response:
    """Encrypt payloads with the active key, as a worker would."""
    return await _transcode(request, runtime, "encode")


async def _transcode(request: Request, runtime: Runtime, operation: Literal["encode", "decode"]) -> Response:
    codec = runtime.settings.payload_codec()
    payloads = await _payloads(request)
    if codec is not None:
        payloads = await (codec.encode(payloads) if operation == "encode" else codec.decode(payloads))
    body = json_format.MessageToJson(Payloads(payloads=payloads), indent=None)
    return Response(content=body, media_type="application/json")


async def _payloads(request: Request) -> list[Payload]:
    try:
        parsed = json_format.Parse(await request.body(), Payloads())
    except (json_format.ParseError, UnicodeDecodeError) as error:
        raise MALFORMED_BODY(f'expected {{"payloads": [...]}} in protobuf JSON: {error}') from None
    return list(parsed.payloads)


class CodecCors:
    """CORS for the codec endpoints alone: a browser on a Temporal UI's origin may call them (with the
    Authorization header or the UI's cross-origin credentials), while the rest of the API stays
    same-origin. It wraps the exception handlers, so a 401 problem carries the headers too: without them a
    browser reports a CORS failure instead of the 401."""

    def __init__(self, app: ASGIApp, *, origins: Sequence[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace"],
            allow_credentials=True,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope["path"]).startswith(PREFIX + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
