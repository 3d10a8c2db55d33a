"""RFC 9457 problem details: every error the sandbox answers is `application/problem+json` with a `code`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    def __init__(self, *, status: int, code: str, title: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail

    def response(self) -> JSONResponse:
        body = {
            "type": f"urn:iot-billing:gateway-sandbox:{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        return JSONResponse(body, status_code=self.status, media_type=PROBLEM_MEDIA_TYPE)


def unknown_agreement(agreement_id: str) -> Problem:
    return Problem(
        status=404,
        code="agreement_not_found",
        title="Agreement not found",
        detail=f"no agreement {agreement_id!r}",
    )


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return exc.response()

    async def on_invalid_request(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        problem = Problem(status=422, code="invalid_request", title="Invalid request", detail=errors)
        return problem.response()

    async def on_http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        title = str(exc.detail)
        return Problem(
            status=exc.status_code, code=f"http_{exc.status_code}", title=title, detail=title
        ).response()

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_invalid_request)
    app.add_exception_handler(HTTPException, on_http_error)
