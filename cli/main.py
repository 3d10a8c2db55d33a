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


@app.command(
    "sandbox-gateway",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def sandbox_gateway(ctx: typer.Context) -> None:
    """Run the sandbox payment gateway (its own service and tables); flags as `python -m gateway.sandbox`."""
    from gateway.sandbox.__main__ import main

    main(ctx.args)
