"""Refuse request bodies over a size limit with a 413 problem document.

A declared `Content-Length` over the limit is refused before the app runs; a body streamed without one is
counted as it is read, and the read fails with a 413 `HTTPException` that the problem handler renders.
(Starlette's own limiter answers such requests in text/plain, whatever the app's handlers say.)"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import BODY_TOO_LARGE


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=413, detail="the request body exceeds the size limit")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            problem = BODY_TOO_LARGE(
                f"the request body is {declared} bytes; the limit is {self.max_bytes}",
                field="body",
                code="body_too_large",
            )
            await problem.response()(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge()
            return message

        await self.app(scope, counted, send)
