"""Log lines written inside a span carry its trace and span ids, as OTLP backends show them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider

from infra.logging import configure_logging


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(fmt="json")
    written = io.StringIO()
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(written)
    yield written
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_a_line_inside_a_span_names_the_trace_and_one_outside_does_not(json_logs: io.StringIO) -> None:
    tracer = TracerProvider().get_tracer("test")
    log = structlog.get_logger("test")
    with tracer.start_as_current_span("work") as span:
        log.info("inside")
    log.info("outside")

    inside, outside = (json.loads(line) for line in json_logs.getvalue().splitlines())
    context = span.get_span_context()
    assert inside["trace_id"] == format(context.trace_id, "032x")
    assert inside["span_id"] == format(context.span_id, "016x")
    assert "trace_id" not in outside and "span_id" not in outside
