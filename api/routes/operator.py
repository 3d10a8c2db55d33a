"""Operator sign-in for the Temporal UI's codec calls: the page asks for the admin token once and the
API answers with the session cookie of `api.operator_session`, scoped to the codec endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from api import operator_session
from api.auth import AdminDep
from api.deps import RuntimeDep
from api.pages import STATIC_DIR
from api.problems import problem_responses
from api.routes.codec import PREFIX as CODEC_PREFIX

PAGE_PATH = "/operator"
SESSION_PATH = "/operator/session"

router = APIRouter(tags=["operator"])


@router.get(PAGE_PATH, include_in_schema=False)
async def sign_in_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "operator.html", media_type="text/html")


@router.post(SESSION_PATH, status_code=204, responses=problem_responses(401, 403))
async def open_session(request: Request, _admin: AdminDep, runtime: RuntimeDep) -> Response:
    """Set the operator cookie that lets the Temporal UI decode payloads (send the admin token once)."""
    settings = runtime.settings
    ttl = timedelta(hours=settings.operator_session_hours)
    value = operator_session.issue(settings.admin_token.get_secret_value(), datetime.now(UTC), ttl)
    response = Response(status_code=204)
    response.set_cookie(
        operator_session.COOKIE,
        value,
        max_age=int(ttl.total_seconds()),
        path=CODEC_PREFIX,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.delete(SESSION_PATH, status_code=204)
async def close_session() -> Response:
    """Forget the operator cookie on this browser."""
    response = Response(status_code=204)
    response.delete_cookie(operator_session.COOKIE, path=CODEC_PREFIX, httponly=True, samesite="lax")
    return response
