"""One trace per signup: `POST /v1/subscriptions` → update-with-start → the workflow → the signing and
settling activity → the gateway's HTTP calls and PostgreSQL, each span the child of the one before, as an
in-memory exporter records them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.billing import BillingActivities
from api.app import create_app
from gateway.http_client import HttpPaymentGateway
from infra.db import make_session_factory
from infra.settings import Settings
from infra.tracing import Tracing
from models import names
from tests.api.support import api_client, create_product, register_devices, subscribe
from tests.fixtures.sandbox import SandboxGateway
from tests.support.temporal import terminate_started
from workers.main import build_worker


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter) -> Iterator[Tracing]:
    tracing = Tracing.exporting_to(SimpleSpanProcessor(exporter), service="iot-billing-test")
    tracing.instrument_clients()
    yield tracing
    tracing.shutdown()


@pytest.fixture
async def traced_client(dev_server_env: WorkflowEnvironment, tracing: Tracing) -> Client:
    plain = dev_server_env.client
    return Client(
        plain.service_client,
        namespace=plain.namespace,
        data_converter=plain.data_converter,
        interceptors=tracing.interceptors(),
    )


@pytest.fixture
async def traced_worker(
    traced_client: Client, engine: Engine, sandbox_gateway: SandboxGateway, task_queue: str
) -> AsyncIterator[None]:
    gateway = HttpPaymentGateway(sandbox_gateway.url, timeout_seconds=5)
    with ThreadPoolExecutor(max_workers=4) as executor:
        worker = build_worker(
            traced_client,
            task_queue=task_queue,
            activities=BillingActivities(make_session_factory(engine), gateway),
            executor=executor,
            max_concurrent_activities=4,
        )
        async with worker:
            yield
            await terminate_started(task_queue)
    gateway.close()


@pytest.mark.usefixtures("traced_worker")
async def test_one_trace_crosses_the_api_temporal_the_activity_the_gateway_and_postgres(
    settings: Settings,
    engine: Engine,
    traced_client: Client,
    tracing: Tracing,
    exporter: InMemorySpanExporter,
    sandbox_gateway: SandboxGateway,
) -> None:
    app = create_app(settings, temporal_client=traced_client, engine=engine, tracing=tracing)
    async with api_client(app) as http:
        product_id = await create_product(http)
        devices = await register_devices(http, "alice", 2)
        exporter.clear()
        response = await subscribe(http, "alice", product_id, devices)
    assert response.status_code == 201, response.text

    [request] = await _spans(
        exporter, lambda s: s.name == "POST /v1/subscriptions" and s.kind is SpanKind.SERVER
    )
    assert request.parent is None
    trace_id = request.context.trace_id
    trace = await _spans(exporter, lambda s: s.context.trace_id == trace_id)
    by_id = {span.context.span_id: span for span in trace}

    [charge] = [s for s in trace if s.kind is SpanKind.CLIENT and _url(s).endswith("/v1/charges")]
    assert _url(charge).startswith(sandbox_gateway.url)
    start = "StartUpdateWithStartWorkflow:SubscriptionWorkflow"
    assert [span.name for span in _ancestors(charge, by_id)] == [
        f"RunActivity:{names.SIGN_AND_SETTLE_FIRST}",
        f"StartActivity:{names.SIGN_AND_SETTLE_FIRST}",
        start,
        "POST /v1/subscriptions",
    ]
    # The SDK ends workflow spans as they start (a replay must not hold one open), so the workflow's own
    # spans sit beside the activity's under the client's call rather than above it.
    for name in ("RunWorkflow:SubscriptionWorkflow", "HandleUpdate:signup_outcome"):
        [span] = [s for s in trace if s.name == name]
        assert [a.name for a in _ancestors(span, by_id)] == [start, "POST /v1/subscriptions"]
    [signing] = [s for s in trace if s.kind is SpanKind.CLIENT and _url(s).endswith("/v1/agreements")]
    assert charge.parent is not None and signing.parent is not None
    assert signing.parent.span_id == charge.parent.span_id  # signed and charged in the same activity

    queries = [s for s in trace if s.attributes and s.attributes.get("db.system") == "postgresql"]
    activity = by_id[charge.parent.span_id]
    in_activity = [
        q for q in queries if q.parent is not None and q.parent.span_id == activity.context.span_id
    ]
    in_api = [q for q in queries if request in _ancestors(q, by_id)]
    assert in_activity, "the activity's statements are traced under it"
    assert in_api, "the API's own statements (the idempotency record) are traced under the request"
    # Nothing of the signup starts a trace of its own, or hangs off a span the trace lacks.
    assert all(span.parent is None or span.parent.span_id in by_id for span in trace)


async def _spans(exporter: InMemorySpanExporter, keep: object, within: float = 10.0) -> list[ReadableSpan]:
    """The finished spans `keep` accepts, once there are some and no more arrive for a moment: spans end
    on other threads (the worker's) shortly after the answer."""
    assert callable(keep)
    deadline = time.monotonic() + within
    seen: list[ReadableSpan] = []
    while time.monotonic() < deadline:
        now = [span for span in exporter.get_finished_spans() if keep(span)]
        if now and len(now) == len(seen):
            return now
        seen = now
        await asyncio.sleep(0.3)
    raise AssertionError(f"spans not settled within {within}s: {[s.name for s in seen]}")


def _url(span: ReadableSpan) -> str:
    attributes = span.attributes or {}
    return str(attributes.get("url.full") or attributes.get("http.url") or "")


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    chain = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain
