"""The command line and environment of each process the dev stack starts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from devstack.config import StackSettings
from infra.keep_alive import SERVER_KEEP_ALIVE_S
from infra.temporal import temporal_cli_path, timer_shift_flags
from workflows.search_attributes import dev_server_flags

# The directory holding our packages: children import them even when the project is not installed.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def inherited_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def child_env(
    *,
    stack: StackSettings,
    database_url: str,
    admin_token: str,
    user_token_secret: str,
    payload_keys: str,
    mqtt_url: str | None = None,
) -> dict[str, str]:
    env = inherited_env()
    env["DATABASE_URL"] = database_url
    env["TEMPORAL_ADDRESS"] = stack.temporal_address
    env["IOT_BILLING_GATEWAY_URL"] = stack.gateway_url
    env["IOT_BILLING_ADMIN_TOKEN"] = admin_token
    env["IOT_BILLING_USER_TOKEN_SECRET"] = user_token_secret
    # The demo's webhook receivers (`iot-billing listen`) listen on 127.0.0.1.
    env.setdefault("IOT_BILLING_WEBHOOK_ALLOW_PRIVATE", "true")
    env["IOT_BILLING_PAYLOAD_KEYS"] = payload_keys
    env["IOT_BILLING_METRICS_HOST"] = stack.metrics_host
    env["IOT_BILLING_WORKER_METRICS_PORT"] = str(stack.worker_metrics_port)
    env["IOT_BILLING_WORKER_SDK_METRICS_PORT"] = str(stack.worker_sdk_metrics_port)
    env["IOT_BILLING_DISPATCHER_METRICS_PORT"] = str(stack.dispatcher_metrics_port)
    if mqtt_url is not None:
        env["IOT_BILLING_MQTT_URL"] = mqtt_url
    # The dev UI calls the codec endpoint from its own origin.
    if stack.temporal_ui_url and "IOT_BILLING_CODEC_CORS_ORIGINS" not in env:
        env["IOT_BILLING_CODEC_CORS_ORIGINS"] = stack.temporal_ui_url
    return env


def temporal_dev_server(stack: StackSettings, *, namespace: str) -> list[str]:
    persistence = (
        [] if stack.temporal_in_memory else ["--db-filename", str(stack.data_dir.resolve() / "temporal.db")]
    )
    return [
        temporal_cli_path(),
        "server",
        "start-dev",
        *persistence,
        "--ip",
        stack.temporal_ip,
        "--port",
        str(stack.temporal_port),
        "--ui-port",
        str(stack.temporal_ui_port),
        "--namespace",
        namespace,
        # The UI decodes payloads through the API's codec endpoint (docs/operations.md).
        "--ui-codec-endpoint",
        f"{stack.api_url}/codec",
        *dev_server_flags(),
        *timer_shift_flags(stack.temporal_timer_shift_ms),
    ]


def sandbox_gateway(stack: StackSettings, *, database_url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gateway.sandbox",
        f"--host={stack.gateway_host}",
        f"--port={stack.gateway_port}",
        f"--database-url={database_url}",
    ]


def worker() -> list[str]:
    return [sys.executable, "-m", "cli.main", "worker"]


def dispatcher() -> list[str]:
    return [sys.executable, "-m", "cli.main", "dispatcher"]


def publisher(*, republish: bool) -> list[str]:
    return [sys.executable, "-m", "cli.main", "publisher", *(["--republish-all"] if republish else [])]


def api(stack: StackSettings) -> list[str]:
    return uvicorn("api.app:create_app", host=stack.api_host, port=stack.api_port)


def uvicorn(factory: str, *, host: str, port: int, workers: int = 1) -> list[str]:
    """The API's server command, for the API or an app the bench compares it with."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--host",
        host,
        "--port",
        str(port),
        *(["--workers", str(workers)] if workers > 1 else []),
        # Open keep-alive connections must not hold a stop for long.
        "--timeout-graceful-shutdown",
        "5",
        "--timeout-keep-alive",
        str(SERVER_KEEP_ALIVE_S),
    ]
