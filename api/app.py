"""The HTTP API application factory. Nothing is built at import time:

    uvicorn --factory api.app:create_app

The lifespan builds the database engine and the Temporal client (pydantic data converter) unless they were
given, and disposes of what it built. Tests pass both and drive the app without a lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from temporalio.client import Client

from api.body_limit import BodyLimitMiddleware
from api.deps import Runtime
from api.identity import IdentityProvider
from api.problems import install_problem_handlers
from api.request_context import RequestContextMiddleware
from api.routes import (
    codec,
    devices,
    entitlements,
    events,
    health,
    operator,
    products,
    subscriptions,
    webhooks,
)
from api.routes.codec import CodecCors
from api.webhooks_doc import document_webhooks
from infra.db import make_engine
from infra.request_metrics import RequestMetricsMiddleware, add_metrics_route
from infra.settings import Settings
from infra.temporal import connect
from infra.tracing import Tracing, otlp_tracing

MAX_BODY_BYTES = 64 * 1024

log = structlog.get_logger(__name__)

DESCRIPTION = """\
Billing for IoT device-group subscriptions, orchestrated by Temporal.

**Auth:** admin calls send `Authorization: Bearer <admin token>`; user calls send a bearer JWT (`sub` =
user id, `exp` required): HS256 over the shared secret, or, when an identity provider is configured, its
RS256/ES256 tokens with the configured issuer and audience. **Errors** are RFC 9457
`application/problem+json` with a stable `type` (`https://iot-billing.dev/problems/<slug>`), a `detail`
and the offending `field`. Request bodies are limited to 64 KiB.
"""


def _lifespan(
    runtime: Runtime, tracing: Tracing | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        settings = runtime.settings
        built_engine = runtime.engine is None
        if built_engine:
            runtime.engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        try:
            if runtime.temporal is None:
                runtime.temporal = await connect(
                    settings.temporal_address,
                    settings.temporal_namespace,
                    codec=settings.payload_codec(),
                    interceptors=tracing.interceptors() if tracing is not None else (),
                )
            log.info("api started", temporal=settings.temporal_address, task_queue=settings.task_queue)
            yield
        finally:
            if built_engine and runtime.engine is not None:
                runtime.engine.dispose()
                runtime.engine = None
            if tracing is not None:
                tracing.shutdown()
            log.info("api stopped")

    return lifespan


def _include_optional(app: FastAPI) -> None:
    """Voucher routes and pages are another module's; the app works before they exist."""
    if find_spec("api.routes.vouchers") is not None:
        app.include_router(import_module("api.routes.vouchers").router)
    if find_spec("api.pages") is not None:
        pages = import_module("api.pages")
        router = getattr(pages, "router", None)
        if isinstance(router, APIRouter):
            app.include_router(router)
        static_dir = getattr(pages, "STATIC_DIR", None)
        if isinstance(static_dir, Path) and static_dir.is_dir():
            app.mount("/pages/static", StaticFiles(directory=static_dir), name="pages-static")


def create_app(
    settings: Settings | None = None,
    *,
    temporal_client: Client | None = None,
    engine: Engine | None = None,
    tracing: Tracing | None = None,
) -> FastAPI:
    """`tracing` traces the app's requests; when it is not given, an OTLP endpoint in the settings sets it up
    (and then the engine and client the lifespan builds are traced too)."""
    settings = settings or Settings()
    if tracing is None:
        tracing = otlp_tracing(settings.otel_exporter_otlp_endpoint, service="iot-billing-api")
        if tracing is not None:
            tracing.instrument_clients()
    runtime = Runtime(
        settings=settings,
        engine=engine,
        temporal=temporal_client,
        identity=IdentityProvider.from_settings(settings),
    )
    app = FastAPI(
        title="iot-billing",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=_lifespan(runtime, tracing),
    )
    app.state.runtime = runtime
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(CodecCors, origins=settings.codec_cors_origins)
    app.add_middleware(RequestMetricsMiddleware)
    app.add_middleware(RequestContextMiddleware)  # added last: outermost, so every answer carries the id
    install_problem_handlers(app)
    for module in (health, products, devices, entitlements, subscriptions, events, webhooks, codec, operator):
        app.include_router(module.router)
    document_webhooks(app)
    _include_optional(app)
    add_metrics_route(app)
    if tracing is not None:
        tracing.instrument_app(app)
    return app
