"""The sandbox's own configuration: command-line flags, or SANDBOX_GATEWAY_* environment variables."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SANDBOX_GATEWAY_",
        extra="ignore",
        cli_kebab_case=True,
        cli_prog_name="python -m gateway.sandbox",
    )

    host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    port: int = Field(default=8010, ge=0, le=65535, description="TCP port to listen on.")
    database_url: str = Field(
        description="PostgreSQL URL (libpq or SQLAlchemy form); tables live in schema `sandbox`."
    )
    lost_response_delay_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long a sandbox_lost_response charge holds its (committed) answer back.",
    )
    log_level: str = Field(default="INFO", description="Root log level.")
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("otel_exporter_otlp_endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP/HTTP collector to send traces to; none, no tracing.",
    )
