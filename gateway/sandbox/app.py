"""The sandbox's HTTP routes. Endpoints are sync on purpose: FastAPI runs them in its thread pool, so the
blocking database work and a lost response's sleep never stall other requests."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import create_engine

from gateway.protocol import Agreement, ChargeResult, ChargeStatus
from gateway.sandbox.ledger import SandboxLedger
from gateway.sandbox.problems import Problem, install_problem_handlers
from gateway.sandbox.schemas import ChargeRequest, Health, LedgerCharge, SignRequest
from gateway.sandbox.settings import SandboxSettings
from gateway.sandbox.tables import ensure_schema
from infra.db import replace_hung_up_connections
from infra.request_metrics import RequestMetricsMiddleware, add_metrics_route
from infra.settings import sqlalchemy_url

log = structlog.get_logger(__name__)

router = APIRouter()


def _ledger(request: Request) -> SandboxLedger:
    ledger: SandboxLedger = request.app.state.ledger
    return ledger


def _settings(request: Request) -> SandboxSettings:
    settings: SandboxSettings = request.app.state.settings
    return settings


LedgerDep = Annotated[SandboxLedger, Depends(_ledger)]


@router.post("/v1/agreements", status_code=status.HTTP_201_CREATED, response_model=Agreement)
def sign_agreement(body: SignRequest, request: Request) -> Response:
    """Sign a recurring agreement; the same `reference` returns the agreement already signed (200)."""
    # Every signup comes through here: read and answered as `charge` is.
    signed = _ledger(request).sign(body)
    log.info("agreement_signed", agreement_id=signed.agreement.agreement_id, created=signed.created)
    return _json(signed.agreement, status.HTTP_201_CREATED if signed.created else status.HTTP_200_OK)


@router.get("/v1/agreements/{agreement_id}")
def get_agreement(agreement_id: str, ledger: LedgerDep) -> Agreement:
    """The agreement as it stands."""
    return ledger.get_agreement(agreement_id)


@router.post("/v1/agreements/{agreement_id}/release")
def release_agreement(agreement_id: str, ledger: LedgerDep) -> Agreement:
    """Release an active agreement; releasing again (or a revoked one) changes nothing."""
    agreement = ledger.release(agreement_id)
    log.info("agreement_released", agreement_id=agreement_id, status=agreement.status)
    return agreement


@router.post("/v1/charges", response_model=ChargeResult)
def charge(body: ChargeRequest, request: Request) -> Response:
    """Charge once per idempotency key; declines are answers (200), not errors."""
    # Every period of every subscription comes through here: the app state is read directly rather than
    # through dependencies, and the answer is serialised once.
    ledger, settings = _ledger(request), _settings(request)
    recorded = ledger.charge(body)
    log.info(
        "charge_answered",
        charge_id=recorded.result.charge_id,
        idempotency_key=body.idempotency_key,
        status=recorded.result.status,
        decline_code=recorded.result.decline_code,
        delayed=recorded.delay_response,
    )
    if recorded.delay_response:
        # Committed but not yet answered: a caller with a shorter timeout sees the response as lost.
        time.sleep(settings.lost_response_delay_seconds)
    return _json(recorded.result, status.HTTP_200_OK)


def _json(model: BaseModel, status_code: int) -> Response:
    """The model as JSON, serialised once: FastAPI would validate a returned model again first."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


@router.get("/v1/charges")
def list_charges(
    ledger: LedgerDep,
    contract_id: Annotated[str | None, Query()] = None,
    period: Annotated[int | None, Query()] = None,
    charge_status: Annotated[ChargeStatus | None, Query(alias="status")] = None,
) -> list[LedgerCharge]:
    """The ledger, oldest first, filtered by contract, period and status."""
    return ledger.list_charges(contract_id=contract_id, period=period, status=charge_status)


@router.get("/healthz")
def healthz(ledger: LedgerDep) -> Health:
    """Ready when the database answers."""
    try:
        ledger.ping()
    except Exception as exc:
        raise Problem(
            status=503, code="database_unavailable", title="Database unavailable", detail=str(exc)
        ) from exc
    return Health(status="ok")


def create_app(settings: SandboxSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(sqlalchemy_url(settings.database_url), pool_size=10, max_overflow=40)
        replace_hung_up_connections(engine)
        try:
            ensure_schema(engine)
            app.state.ledger = SandboxLedger(engine)
            yield
        finally:
            engine.dispose()

    app = FastAPI(title="iot-billing payment gateway sandbox", lifespan=lifespan)
    app.state.settings = settings
    app.add_middleware(RequestMetricsMiddleware)
    install_problem_handlers(app)
    app.include_router(router)
    add_metrics_route(app)
    return app
