"""The voucher pages the API serves: the operator console and the client demo page (the claim pop-up).

Plain HTML and JavaScript calling the public API with a bearer token the visitor enters; the pages hold no
data and no secrets. `api.app` includes `router` and mounts `STATIC_DIR` at /pages/static."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).parent / "static"
CONSOLE_PATH = "/pages/vouchers"
CLIENT_PATH = "/pages/vouchers/client"

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get(CONSOLE_PATH)
async def operator_console() -> FileResponse:
    return FileResponse(STATIC_DIR / "console.html", media_type="text/html")


@router.get(CLIENT_PATH)
async def client_demo() -> FileResponse:
    return FileResponse(STATIC_DIR / "client.html", media_type="text/html")
