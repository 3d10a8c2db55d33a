"""The one configuration class: environment variables prefixed IOT_BILLING_ (plus the usual DATABASE_URL
and TEMPORAL_ADDRESS), validated at start-up, never read at import time."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from infra.codec import EncryptionCodec, codec_for, parse_payload_keys
from infra.mqtt import MqttTarget

DEFAULT_ADMIN_TOKEN = "dev-admin-token"
DEFAULT_USER_TOKEN_SECRET = "dev-user-token-secret-change-me-please"
# Signatures an identity provider may use. `none` and the HS family are not here: a key published in a
# JWKS is public, and an HMAC "signed" with it proves nothing.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


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
    # A production identity provider's tokens are accepted beside the HS256 ones once its JWKS URL is set;
    # the issuer and audience are then required, so a token minted for another service never passes.
    user_token_jwks_url: str | None = None
    user_token_issuer: str | None = None
    user_token_audience: str | None = None
    # Comma-separated in the environment (RS256,ES256), as operators write it.
    user_token_algorithms: Annotated[tuple[str, ...], NoDecode] = ("RS256", "ES256")
    # Clock skew allowed between the provider and us on `exp`, `nbf` and `iat`.
    user_token_leeway_seconds: int = Field(default=60, ge=0, le=300)
    user_token_jwks_cache_seconds: float = Field(default=300, gt=0)
    # The least time between two fetches of the key set that an unknown key id or a failed fetch may
    # cause, so a stream of forged key ids cannot turn the API into a client flooding the provider.
    user_token_jwks_refresh_cooldown_seconds: float = Field(default=30, ge=0)
    # Temporal payload encryption keys, `id:base64key,id2:base64key`: the first encrypts, every one decrypts
    # (infra/codec.py). Unset in development means plain payloads; `make run` generates one in its data dir.
    payload_keys: SecretStr | None = None
    # Origins of the Temporal Web UIs allowed to call the codec endpoint from a browser (comma-separated).
    codec_cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    # How long an operator's codec session cookie (api/operator_session.py) lasts after signing in.
    operator_session_hours: float = Field(default=8, gt=0, le=24 * 7)
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    db_pool_size: int = 20
    # Workflows kept in worker memory between tasks, a bound on the worker's memory; a monthly
    # subscription evicted from the cache replays its short history when its timer fires.
    max_cached_workflows: int = 500
    # Webhook URLs may point at loopback and private networks: only for a developer's own machine, where
    # the demo's receivers listen on 127.0.0.1. Off, such URLs are refused (SSRF).
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # The waits between a failed attempt and the next, roughly doubling as Stripe's do (about three days
    # in all); comma-separated seconds in the environment. Once they are spent the endpoint is disabled.
    webhook_retry_schedule_seconds: Annotated[tuple[float, ...], NoDecode] = (
        60,
        300,
        1800,
        3600,
        7200,
        14400,
        28800,
        43200,
        86400,
        86400,
    )
    # Each wait is drawn from (1 ± jitter) times its step, so endpoints failing together retry apart.
    webhook_retry_jitter: float = Field(default=0.2, ge=0, lt=1)
    # How much of a receiver's answer is read (and kept for the deliveries API); the rest is dropped.
    webhook_response_cap_bytes: int = Field(default=4096, ge=0, le=65536)
    # How long a rotated-out secret keeps signing beside the new one.
    webhook_secret_overlap_seconds: int = Field(default=86400, ge=0)
    # Deliveries one dispatcher copy has in flight at once; a slow receiver holds only its own.
    dispatcher_concurrency: int = Field(default=32, ge=1, le=1000)
    # The longest a dispatcher sleeps between looks when no notice wakes it (retries come due this way).
    dispatcher_poll_seconds: float = Field(default=1.0, gt=0)
    # How often the dispatcher and the device publisher ask whether new work is queued (events/wakeup.py):
    # the most a new event or device change waits before they see it.
    wake_probe_seconds: float = Field(default=0.1, gt=0, le=5)
    # The broker the device publisher writes retained entitlement states to (docs/devices.md):
    # `mqtt://user:password@host:1883`, or `mqtts://` for TLS, verified against `mqtt_ca_file` if set.
    mqtt_url: SecretStr = SecretStr("mqtt://127.0.0.1:1883")
    mqtt_ca_file: str | None = None
    # Topics are `{prefix}/devices/{device_id}/entitlements`.
    mqtt_topic_prefix: str = Field(default="iot-billing", min_length=1, pattern=r"^[^#+]+$")
    # A publish the broker has not acknowledged in this time counts as lost: the connection is dropped and
    # the state published again.
    mqtt_publish_timeout_seconds: float = Field(default=10.0, gt=0)
    # Reconnection waits double from the first to the last while the broker stays away.
    mqtt_reconnect_first_seconds: float = Field(default=0.5, gt=0)
    mqtt_reconnect_max_seconds: float = Field(default=30.0, gt=0)
    # Batches one publisher copy works on at once (one database connection each) and devices per batch.
    publisher_concurrency: int = Field(default=4, ge=1, le=64)
    publisher_batch: int = Field(default=200, ge=1, le=10_000)
    publisher_poll_seconds: float = Field(default=1.0, gt=0)

    # Prometheus: where the worker and the dispatcher serve `/metrics` (the API and the sandbox gateway serve
    # it on their own HTTP port). The worker serves the Temporal SDK's metrics on a port of their own. Unset
    # (empty) serves nothing; 0.0.0.0 lets a scraper on another host in.
    metrics_host: str = "127.0.0.1"
    worker_metrics_port: int | None = Field(default=9464, ge=1, le=65535)
    worker_sdk_metrics_port: int | None = Field(default=9465, ge=1, le=65535)
    dispatcher_metrics_port: int | None = Field(default=9466, ge=1, le=65535)
    # Traces go to this OTLP/HTTP collector (the variable OpenTelemetry's own exporters read); unset, no
    # tracing is set up at all.
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_development(self) -> Settings:
        if self.environment != "development":
            if self.admin_token.get_secret_value() == DEFAULT_ADMIN_TOKEN:
                raise ValueError("IOT_BILLING_ADMIN_TOKEN must be set outside development")
            if self.user_token_secret.get_secret_value() == DEFAULT_USER_TOKEN_SECRET:
                raise ValueError("IOT_BILLING_USER_TOKEN_SECRET must be set outside development")
            if self.payload_keys is None:
                raise ValueError("IOT_BILLING_PAYLOAD_KEYS must be set outside development")
        return self

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url_parses(cls, value: SecretStr) -> SecretStr:
        MqttTarget.parse(value.get_secret_value())
        return value

    def mqtt_target(self) -> MqttTarget:
        return MqttTarget.parse(self.mqtt_url.get_secret_value())

    @field_validator("payload_keys", mode="before")
    @classmethod
    def _empty_keys_are_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("payload_keys")
    @classmethod
    def _payload_keys_parse(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_payload_keys(value.get_secret_value())
        return value

    @field_validator("codec_cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip().rstrip("/") for part in value.split(",") if part.strip())
        return value

    def payload_codec(self) -> EncryptionCodec | None:
        """The payload codec every Temporal client, worker and replayer of this configuration uses."""
        return codec_for(None if self.payload_keys is None else self.payload_keys.get_secret_value())

    @field_validator(
        "user_token_jwks_url",
        "user_token_issuer",
        "user_token_audience",
        "worker_metrics_port",
        "worker_sdk_metrics_port",
        "dispatcher_metrics_port",
        "otel_exporter_otlp_endpoint",
        "mqtt_ca_file",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # Compose files and shells often set a variable to nothing to mean "not configured".
        return None if value == "" else value

    @field_validator("webhook_retry_schedule_seconds", mode="before")
    @classmethod
    def _split_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("webhook_retry_schedule_seconds")
    @classmethod
    def _schedule_positive(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(step <= 0 for step in value):
            raise ValueError("every retry wait must be a positive number of seconds")
        return value

    @field_validator("user_token_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("user_token_algorithms")
    @classmethod
    def _only_asymmetric_algorithms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one signing algorithm, such as RS256")
        refused = [name for name in value if name not in ASYMMETRIC_ALGORITHMS]
        if refused:
            allowed = ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
            raise ValueError(f"not an asymmetric signing algorithm: {', '.join(refused)} (use {allowed})")
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _identity_provider_complete(self) -> Settings:
        url = self.user_token_jwks_url
        if url is None:
            if self.user_token_issuer is not None or self.user_token_audience is not None:
                raise ValueError(
                    "IOT_BILLING_USER_TOKEN_ISSUER and _AUDIENCE need IOT_BILLING_USER_TOKEN_JWKS_URL"
                )
            return self
        if self.user_token_issuer is None or self.user_token_audience is None:
            raise ValueError(
                "IOT_BILLING_USER_TOKEN_JWKS_URL needs IOT_BILLING_USER_TOKEN_ISSUER and _AUDIENCE as well"
            )
        parts = urlsplit(url)
        # Keys fetched in the clear could be swapped on the way; only a provider on this host may skip TLS.
        if not parts.hostname or not (
            parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS)
        ):
            raise ValueError(
                "IOT_BILLING_USER_TOKEN_JWKS_URL must be an https:// URL (http:// only to localhost)"
            )
        return self


def sqlalchemy_url(url: str) -> str:
    """Accept plain postgresql:// URLs (as embedded servers print them); pin the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")
