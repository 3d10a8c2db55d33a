"""The one configuration class: environment variables prefixed IOT_BILLING_ (plus the usual DATABASE_URL
and TEMPORAL_ADDRESS), validated at start-up, never read at import time."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ADMIN_TOKEN = "dev-admin-token"
DEFAULT_USER_TOKEN_SECRET = "dev-user-token-secret-change-me-please"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IOT_BILLING_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default="postgresql+psycopg://postgres@127.0.0.1:5432/iot_billing",
        validation_alias="DATABASE_URL",
    )
    temporal_address: str = Field(default="127.0.0.1:7233", validation_alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = "default"
    task_queue: str = "iot-billing"
    gateway_url: str = "http://127.0.0.1:8010"
    gateway_timeout_seconds: float = 10.0
    admin_token: SecretStr = SecretStr(DEFAULT_ADMIN_TOKEN)
    user_token_secret: SecretStr = SecretStr(DEFAULT_USER_TOKEN_SECRET)
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    db_pool_size: int = 20
    # Workflows kept in worker memory between tasks, a bound on the worker's memory; a monthly
    # subscription evicted from the cache replays its short history when its timer fires.
    max_cached_workflows: int = 500

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_development(self) -> Settings:
        if self.environment != "development":
            if self.admin_token.get_secret_value() == DEFAULT_ADMIN_TOKEN:
                raise ValueError("IOT_BILLING_ADMIN_TOKEN must be set outside development")
            if self.user_token_secret.get_secret_value() == DEFAULT_USER_TOKEN_SECRET:
                raise ValueError("IOT_BILLING_USER_TOKEN_SECRET must be set outside development")
        return self


def sqlalchemy_url(url: str) -> str:
    """Accept plain postgresql:// URLs (as embedded servers print them); pin the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")
