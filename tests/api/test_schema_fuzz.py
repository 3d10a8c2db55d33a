"""Schemathesis over the app's own OpenAPI document: valid and invalid requests for every operation, none
of which may be answered with a 5xx; every error is a problem document.

One test per operation (so a failure names its route). Its cases are generated first (hypothesis, bounded
and derandomised so a failure reproduces), then sent through the in-process ASGI client on the test's event
loop, where the Temporal client lives. One database for the module: what the cases write stays there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.problems import PROBLEM_JSON
from infra.db import SessionFactory, make_session_factory
from tests.api.support import admin, api_client, api_settings, user

EXAMPLES_PER_MODE = 12  # valid and invalid: about 25 requests per operation
BASE_URL = "http://api.test"
# Calls only a user can make get a user token, so generation reaches past the authorisation check.
USER_CALLS = {("POST", "/v1/subscriptions"), ("POST", "/v1/subscriptions/{subscription_id}/devices")}
USER_CALLS |= {("DELETE", "/v1/subscriptions/{subscription_id}/devices/{device_id}")}


Generated = list[tuple[str, dict[str, Any]]]


def _collect(operation: Any, mode: schemathesis.GenerationMode, into: Generated) -> None:
    label = f"{operation.method.upper()} {operation.path}"
    auth = user("fuzzer") if (operation.method.upper(), operation.path) in USER_CALLS else admin()

    @settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=mode))
    def collect(case: Any) -> None:
        into.append((label, case.as_transport_kwargs(base_url=BASE_URL, headers=auth)))

    # An operation without inputs (GET /healthz) has no invalid form: negative generation is unsatisfiable.
    with suppress(Unsatisfiable):
        collect()


def _request(http: httpx.AsyncClient, kwargs: dict[str, Any]) -> httpx.Request | None:
    """The requests-style kwargs as an httpx request; None when no HTTP client could send them."""
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        body["content"] = data if isinstance(data, bytes | str) else str(data)
    try:
        return http.build_request(
            kwargs["method"],
            kwargs["url"],
            headers=kwargs.get("headers"),
            params=kwargs.get("params"),
            **body,
        )
    except (UnicodeError, ValueError, TypeError, httpx.HTTPError):
        return None


def _operations() -> list[tuple[str, str]]:
    # Building the app does no I/O (engine and client come from the lifespan): safe at collection time.
    spec = create_app(api_settings("tq-unused")).openapi()
    return [(method.upper(), path) for path, item in spec["paths"].items() for method in item]


@pytest.fixture(scope="module")
def sessions(module_engine: Engine) -> SessionFactory:
    return make_session_factory(module_engine)


@pytest.fixture(scope="module")
def app(module_engine: Engine, module_task_queue: str, dev_server_env: WorkflowEnvironment) -> FastAPI:
    return create_app(
        api_settings(module_task_queue), temporal_client=dev_server_env.client, engine=module_engine
    )


@pytest.fixture(scope="module")
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(app) as client:
        yield client


@pytest.fixture(scope="module")
def schema(app: FastAPI) -> Any:
    return schemathesis.openapi.from_dict(app.openapi())


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda v: str(v))
async def test_no_generated_request_gets_a_server_error(
    method: str, path: str, schema: Any, http: httpx.AsyncClient
) -> None:
    operation = schema[path][method]
    cases: Generated = []
    for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
        _collect(operation, mode, cases)
    sent, failures = 0, []
    for label, kwargs in cases:
        request = _request(http, kwargs)
        if request is None:
            continue
        response = await http.send(request)
        sent += 1
        if response.status_code >= 500:
            failures.append(f"{label}: {response.status_code} {response.text[:300]} <- {kwargs}")
        elif response.status_code >= 400:
            assert response.headers["content-type"].startswith(PROBLEM_JSON), (label, response.text)
    assert not failures, "\n".join(failures[:5])
    assert sent >= 1  # an operation without inputs has exactly one request
