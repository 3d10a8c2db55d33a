"""`uvicorn --factory bench.bare_api:create_app`: the floor under a claim through the API. One endpoint,
served with the API's own server settings and user authentication, that runs nothing but the raw
conditional UPDATE on one hot row, in a transaction on the same kind of pooled session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from api.auth import UserDep
from api.deps import Runtime, SessionsDep
from api.identity import IdentityProvider
from infra.db import make_engine, transaction
from infra.settings import Settings

HOT_ROW_TABLE = "bench_hot_row"
_CLAIM = text(
    f"UPDATE {HOT_ROW_TABLE} SET claimed = claimed + 1 WHERE id = 1 AND claimed < stock RETURNING claimed"
)


def create_app() -> FastAPI:
    settings = Settings()
    runtime = Runtime(settings=settings, identity=IdentityProvider.from_settings(settings))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        try:
            yield
        finally:
            runtime.engine.dispose()

    app = FastAPI(title="iot-billing bench: bare claim", lifespan=lifespan)
    app.state.runtime = runtime

    @app.post("/bare/claims", status_code=201)
    async def claim(user: UserDep, sessions: SessionsDep) -> JSONResponse:
        def run() -> int | None:
            with transaction(sessions) as session:
                row = session.execute(_CLAIM).first()
                return None if row is None else int(row[0])

        claimed = await run_in_threadpool(run)
        if claimed is None:
            return JSONResponse({"detail": "sold out"}, status_code=409)
        return JSONResponse({"user_id": user.user_id, "claimed": claimed}, status_code=201)

    return app
