"""OpenTelemetry traces: one trace per request, from the API through Temporal (the SDK's interceptor carries
the context in workflow and activity headers), the gateway's HTTP call and PostgreSQL.

Set up only when an OTLP endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT`); otherwise nothing is
instrumented and nothing is exported. The provider is passed explicitly to every instrumentation rather
than installed globally, so a test can trace into its own in-memory exporter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

# Probes and scrapes arrive every few seconds and say nothing about a request's path.
UNTRACED_URLS = "/metrics,/healthz,/readyz"


@dataclass
class Tracing:
    provider: TracerProvider
    _instrumented: list[HTTPXClientInstrumentor | PsycopgInstrumentor] = field(default_factory=list)

    @classmethod
    def exporting_to(cls, processor: SpanProcessor, *, service: str) -> Tracing:
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
        provider.add_span_processor(processor)
        return cls(provider)

    def interceptors(self) -> Sequence[Interceptor]:
        """For `Client.connect`: the client's calls and, through the client, its workers' workflows and
        activities carry the caller's trace."""
        return [TracingInterceptor(self.provider.get_tracer("temporalio"))]

    def instrument_app(self, app: FastAPI) -> None:
        FastAPIInstrumentor.instrument_app(app, tracer_provider=self.provider, excluded_urls=UNTRACED_URLS)

    def instrument_clients(self) -> None:
        """httpx (the gateway and webhook calls) and psycopg (every statement), process-wide: call before
        the first connection is opened, since psycopg is traced from `connect` on."""
        for instrumentor in (HTTPXClientInstrumentor(), PsycopgInstrumentor()):
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument(tracer_provider=self.provider, skip_dep_check=True)
                self._instrumented.append(instrumentor)

    def shutdown(self) -> None:
        """Stop tracing the clients and flush the spans still buffered."""
        for instrumentor in self._instrumented:
            instrumentor.uninstrument()
        self._instrumented.clear()
        self.provider.shutdown()


def otlp_tracing(endpoint: str | None, *, service: str) -> Tracing | None:
    """Tracing to an OTLP/HTTP collector at `endpoint` (`Settings.otel_exporter_otlp_endpoint`), or None
    when there is none."""
    if not endpoint:
        return None
    # Imported here: the exporter pulls in protobuf and requests, which a process without tracing never needs.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter: SpanExporter = OTLPSpanExporter(endpoint=_traces_url(endpoint))
    return Tracing.exporting_to(BatchSpanProcessor(exporter), service=service)


def _traces_url(endpoint: str) -> str:
    # The variable names the collector's base URL; its HTTP exporter appends the signal's path.
    return endpoint.rstrip("/") + "/v1/traces"
