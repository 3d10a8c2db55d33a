"""The application shell: the lifespan builds and disposes what it was not given, health and readiness,
the OpenAPI document, and problem documents for whatever reaches no route."""

from __future__ import annotations

import httpx
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.deps import Runtime
from infra.db import make_engine
from infra.settings import Settings
from tests.api.support import ADMIN_TOKEN, PAYLOAD_KEYS, USER_SECRET, api_client, api_settings, assert_problem


async def test_the_lifespan_connects_on_its_own_and_disposes_the_engine(
    database_url_for_test: str, dev_server_env: WorkflowEnvironment
) -> None:
    address = dev_server_env.client.service_client.config.target_host
    settings = Settings(
        environment="test",
        database_url=database_url_for_test,
        temporal_address=address,
        admin_token=SecretStr(ADMIN_TOKEN),
        user_token_secret=SecretStr(USER_SECRET),
        payload_keys=SecretStr(PAYLOAD_KEYS),
    )
    app = create_app(settings)
    runtime: Runtime = app.state.runtime
    assert runtime.engine is None and runtime.temporal is None  # nothing built by the factory

    async with app.router.lifespan_context(app), api_client(app) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "ready", "checks": {"database": "ok", "temporal": "ok"}}

    assert runtime.engine is None  # disposed


async def test_readiness_fails_as_a_problem_when_the_database_is_unreachable(
    dev_server_env: WorkflowEnvironment,
) -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none", pool_size=1)
    app = create_app(api_settings("tq-unused"), temporal_client=dev_server_env.client, engine=engine)
    async with api_client(app) as http:
        alive = await http.get("/healthz")
        ready = await http.get("/readyz")
    engine.dispose()

    assert alive.status_code == 200 and alive.json()["status"] == "ok"
    problem = assert_problem(ready, 503, "not-ready")
    assert problem["checks"]["temporal"] == "ok"
    assert problem["checks"]["database"].startswith("failed")


async def test_openapi_documents_every_route_and_the_problem_shape(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    docs = await http.get("/docs")

    assert docs.status_code == 200
    paths = spec["paths"]
    for path in (
        "/v1/products",
        "/v1/products/{product_id}",
        "/v1/devices",
        "/v1/devices/{device_id}/unbind",
        "/v1/devices/{device_id}/entitlements",
        "/v1/subscriptions",
        "/v1/subscriptions/{subscription_id}",
        "/v1/subscriptions/{subscription_id}/cancel",
        "/v1/subscriptions/{subscription_id}/devices",
        "/v1/subscriptions/{subscription_id}/devices/{device_id}",
        "/healthz",
        "/readyz",
    ):
        assert path in paths, path
    signup = paths["/v1/subscriptions"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in signup["parameters"]]
    assert {"201", "202", "402", "409", "422"} <= set(signup["responses"])
    assert "application/problem+json" in signup["responses"]["402"]["content"]
    assert signup["description"].startswith("Subscribe a group")
    assert "bearer" in str(spec["components"]["securitySchemes"]).lower()
