"""Liveness and readiness, unauthenticated: for process supervisors and load balancers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

from api.deps import Runtime, RuntimeDep
from api.problems import NOT_READY, problem_responses
from infra.db import transaction

router = APIRouter(tags=["health"])

CHECK_TIMEOUT = timedelta(seconds=3)


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


def _database_ok(runtime: Runtime) -> str:
    with transaction(runtime.sessions) as session:
        session.execute(text("SELECT 1"))
    return "ok"


async def _temporal_ok(runtime: Runtime) -> str:
    client = runtime.client
    await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=client.namespace), timeout=CHECK_TIMEOUT
    )
    return "ok"


async def _check(name: str, probe: asyncio.Future[str] | asyncio.Task[str]) -> tuple[str, str]:
    try:
        return name, await asyncio.wait_for(probe, CHECK_TIMEOUT.total_seconds())
    except Exception as error:
        return name, f"failed: {type(error).__name__}"


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up and serving requests."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses=problem_responses(503))
async def readyz(runtime: RuntimeDep) -> Health:
    """Ready to serve: the database answers `SELECT 1` and Temporal describes our namespace."""
    results = await asyncio.gather(
        _check("database", asyncio.ensure_future(run_in_threadpool(_database_ok, runtime))),
        _check("temporal", asyncio.ensure_future(_temporal_ok(runtime))),
    )
    checks = dict(results)
    if any(v != "ok" for v in checks.values()):
        raise NOT_READY("a dependency is not ready", extra={"checks": checks})
    return Health(status="ready", checks=checks)
