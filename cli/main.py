"""`iot-billing`: one command for every process and tool of the system."""

from __future__ import annotations

import asyncio

import typer

from infra.settings import Settings

app = typer.Typer(no_args_is_help=True, help="IoT device-group subscription billing on Temporal.")


@app.command()
def migrate() -> None:
    """Apply the database migrations (DATABASE_URL)."""
    from infra.migrate import upgrade

    upgrade(Settings().database_url)
    typer.echo("database is at the latest migration")


@app.command()
def worker() -> None:
    """Run the Temporal worker (subscription workflows and their activities)."""
    from workers.main import run_worker

    asyncio.run(run_worker(Settings()))


@app.command("sandbox-gateway")
def sandbox_gateway(
    host: str = "127.0.0.1",
    port: int = 8010,
    database_url: str = typer.Option(..., envvar="SANDBOX_GATEWAY_DATABASE_URL"),
    lost_response_delay_seconds: float = 30.0,
) -> None:
    """Run the sandbox payment gateway (its own HTTP service and tables)."""
    from gateway.sandbox.__main__ import serve

    serve(host=host, port=port, database_url=database_url, lost_response_delay_seconds=lost_response_delay_seconds)
