"""Where the one-command stack (`iot-billing up`) puts its data and listens: environment variables, overridden
by the command's flags. Secrets and the task queue stay in `infra.settings.Settings`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StackSettings(BaseSettings):
    # populate_by_name: the bench passes the aliased fields by name, which pydantic ignores otherwise.
    model_config = SettingsConfigDict(env_prefix="IOT_BILLING_", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(
        default=Path(".iot-billing"), description="Embedded PostgreSQL, Temporal db, logs."
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=8010, ge=1, le=65535)
    temporal_ip: str = "127.0.0.1"
    temporal_port: int = Field(default=7233, ge=1, le=65535)
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535)
    # Prometheus endpoints of the worker (ours and the Temporal SDK's) and the dispatcher; the same variables
    # `infra.settings.Settings` reads, passed on to those children. The API and gateway serve /metrics too.
    metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(default=9464, ge=1, le=65535)
    worker_sdk_metrics_port: int = Field(default=9465, ge=1, le=65535)
    dispatcher_metrics_port: int = Field(default=9466, ge=1, le=65535)
    # Set these to use servers that already run instead of the embedded ones.
    external_database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    external_temporal_address: str | None = Field(default=None, validation_alias="TEMPORAL_ADDRESS")
    external_mqtt_url: str | None = Field(default=None, validation_alias="IOT_BILLING_MQTT_URL")
    sandbox_database_url: str | None = Field(default=None, validation_alias="SANDBOX_GATEWAY_DATABASE_URL")
    # The embedded MQTT broker's interface; its port is a free one, chosen at start.
    mqtt_host: str = "127.0.0.1"
    seed_demo: bool = True
    # The benchmark keeps Temporal's state in memory: nothing to persist, and no disk in the figures.
    temporal_in_memory: bool = False
    # How far ahead the dev server's timer queue reads, in ms (None: its default, 1 s); see
    # `infra.temporal.timer_shift_flags`. Only the benchmark sets it.
    temporal_timer_shift_ms: int | None = Field(default=None, gt=0)
    startup_timeout_seconds: float = Field(default=120.0, gt=0)
    stop_timeout_seconds: float = Field(default=15.0, gt=0)

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.gateway_host}:{self.gateway_port}"

    def metrics_urls(self) -> dict[str, str]:
        """Where each process serves `/metrics`, by process."""
        host = self.metrics_host
        return {
            "api": f"{self.api_url}/metrics",
            "worker": f"http://{host}:{self.worker_metrics_port}/metrics",
            "temporal sdk": f"http://{host}:{self.worker_sdk_metrics_port}/metrics",
            "dispatcher": f"http://{host}:{self.dispatcher_metrics_port}/metrics",
            "gateway": f"{self.gateway_url}/metrics",
        }

    @property
    def temporal_address(self) -> str:
        return self.external_temporal_address or f"{self.temporal_ip}:{self.temporal_port}"

    @property
    def temporal_ui_url(self) -> str | None:
        if self.external_temporal_address:
            return None
        return f"http://{self.temporal_ip}:{self.temporal_ui_port}"
