"""`python -m gateway.sandbox --host 127.0.0.1 --port 8010 --database-url postgresql://...`"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import uvicorn
from pydantic_settings import CliApp

from gateway.sandbox.app import create_app
from gateway.sandbox.settings import SandboxSettings
from infra.keep_alive import SERVER_KEEP_ALIVE_S
from infra.logging import configure_logging
from infra.tracing import otlp_tracing


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    settings = CliApp.run(SandboxSettings, cli_args=args)
    configure_logging(level=settings.log_level)
    app = create_app(settings)
    tracing = otlp_tracing(settings.otel_exporter_otlp_endpoint, service="iot-billing-gateway-sandbox")
    if tracing is not None:
        tracing.instrument_clients()
        tracing.instrument_app(app)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep the structlog handlers configure_logging installed
        # A lost-response charge may be sleeping when we are stopped; do not wait for it in full.
        timeout_graceful_shutdown=2,
        timeout_keep_alive=SERVER_KEEP_ALIVE_S,
    )


if __name__ == "__main__":
    main()
