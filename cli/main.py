"""`iot-billing`: one command for every process and tool of the system."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from types import FrameType
from typing import Any

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


@app.command()
def dispatcher() -> None:
    """Run the webhook dispatcher (signed deliveries of outbox events; several copies may run)."""
    from dispatcher.main import run_dispatcher

    asyncio.run(run_dispatcher(Settings()))


@app.command()
def publisher(
    republish_all: bool = typer.Option(
        False, help="First queue every device again, for a broker that starts empty (the embedded one)."
    ),
) -> None:
    """Run the device publisher (retained entitlement states over MQTT; several copies may run)."""
    from publisher.main import run_publisher

    asyncio.run(run_publisher(Settings(), republish_all=republish_all))


@app.command("republish-devices")
def republish_devices(
    device: list[str] = typer.Option([], "--device", help="Only this device (repeatable); default: all."),
) -> None:
    """Publish every device's state again from the database, for a new or wiped broker
    (IOT_BILLING_MQTT_URL)."""
    from cli.devices import republish

    raise typer.Exit(asyncio.run(republish(Settings(), device or None, typer.echo)))


@app.command()
def device(
    device_id: str = typer.Argument(..., help="The device to be."),
    mqtt_url: str | None = typer.Option(None, help="The broker (default: IOT_BILLING_MQTT_URL)."),
) -> None:
    """Connect as the device would and print its entitlement state each time it changes, until Ctrl-C."""
    from cli.devices import simulate

    raise typer.Exit(simulate(Settings(), device_id, mqtt_url, typer.echo))


@app.command()
def listen(
    forward_to: str | None = typer.Option(None, help="Also POST each event, signed, to this URL."),
    types: list[str] = typer.Option(["*"], "--types", help="Event types to receive (repeatable; * for all)."),
    feed: bool = typer.Option(
        False, "--feed", help="Follow GET /v1/events instead of registering a temporary endpoint."
    ),
    since: str | None = typer.Option(
        None, help="With --feed: print events created from this ISO-8601 time on (default: now)."
    ),
    poll: float = typer.Option(1.0, min=0.1, help="With --feed: seconds between reads of the feed."),
    api_url: str = typer.Option("http://127.0.0.1:8000", envvar="IOT_BILLING_API_URL"),
    admin_token: str | None = typer.Option(None, help="Default: IOT_BILLING_ADMIN_TOKEN."),
) -> None:
    """Print each event as it arrives, one line each, like `stripe listen`: through a temporary webhook
    endpoint on this machine (deleted on Ctrl-C), or with --feed by following the events feed."""
    import threading
    from datetime import UTC, datetime

    from cli.listen import follow_feed, run_listen

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _signum, _frame: stop.set())
    token = admin_token or Settings().admin_token.get_secret_value()
    event_types = [t for entry in types for t in entry.split(",") if t]
    try:
        if feed:
            follow_feed(
                api_url=api_url,
                admin_token=token,
                event_types=event_types,
                forward_to=forward_to,
                since=since or datetime.now(UTC).isoformat(),
                poll_seconds=poll,
                stop=stop,
                echo=typer.echo,
            )
        else:
            run_listen(
                api_url=api_url,
                admin_token=token,
                event_types=event_types,
                forward_to=forward_to,
                stop=stop,
                echo=typer.echo,
            )
    except RuntimeError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None


@app.command(
    "sandbox-gateway",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def sandbox_gateway(ctx: typer.Context) -> None:
    """Run the sandbox payment gateway (its own service and tables); flags as `python -m gateway.sandbox`."""
    from gateway.sandbox.__main__ import main

    main(ctx.args)


@app.command()
def up(
    data_dir: Path | None = typer.Option(
        None, help="Data and logs (env IOT_BILLING_DATA_DIR, default ./.iot-billing)."
    ),
    api_port: int | None = typer.Option(None, help="API port (env IOT_BILLING_API_PORT, default 8000)."),
    temporal_port: int | None = typer.Option(
        None, help="Temporal port (env IOT_BILLING_TEMPORAL_PORT, default 7233)."
    ),
    temporal_ui_port: int | None = typer.Option(
        None, help="Temporal UI port (env IOT_BILLING_TEMPORAL_UI_PORT, default 8233)."
    ),
    gateway_port: int | None = typer.Option(
        None, help="Sandbox gateway port (env IOT_BILLING_GATEWAY_PORT, default 8010)."
    ),
    seed: bool | None = typer.Option(None, "--seed/--no-seed", help="Seed the demo catalog (default: seed)."),
) -> None:
    """Run the whole system: embedded PostgreSQL (unless DATABASE_URL), Temporal dev server and UI (unless
    TEMPORAL_ADDRESS), migrations, sandbox gateway, worker, API and demo data, until Ctrl-C."""
    # Nothing runs yet: a stop while the modules below load is a clean exit. The supervisor then installs
    # its own handlers, which stop the children it started.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_cleanly)
    from devstack.config import StackSettings
    from devstack.stack import run_stack

    flags: dict[str, Any] = {
        "data_dir": data_dir,
        "api_port": api_port,
        "temporal_port": temporal_port,
        "temporal_ui_port": temporal_ui_port,
        "gateway_port": gateway_port,
        "seed_demo": seed,
    }
    # Flags win over the environment; unset flags leave it alone.
    stack = StackSettings(**{name: value for name, value in flags.items() if value is not None})
    raise typer.Exit(run_stack(stack))


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


@app.command("seed-demo")
def seed_demo_command(
    api_url: str = typer.Option("http://127.0.0.1:8000", envvar="IOT_BILLING_API_URL"),
) -> None:
    """Create the demo catalog (products, demo-user's devices) through a running API; safe to repeat."""
    import httpx

    from devstack.demo import demo_user_token, seed_demo

    settings = Settings()
    with httpx.Client(base_url=api_url, timeout=10) as client:
        catalog = seed_demo(client, admin_token=settings.admin_token.get_secret_value())
    for cycle, product_id in catalog.product_ids.items():
        typer.echo(f"product {cycle}: {product_id}")
    typer.echo(f"devices of {catalog.user_id}: {', '.join(catalog.device_ids)}")
    typer.echo(f"user JWT: {demo_user_token(settings.user_token_secret.get_secret_value(), catalog.user_id)}")


@app.command()
def reconcile(
    database_url: str | None = typer.Option(None, help="Our database (default: DATABASE_URL)."),
    gateway_url: str | None = typer.Option(
        None, help="The gateway whose GET /v1/charges is the ledger (default: IOT_BILLING_GATEWAY_URL)."
    ),
    gateway_database_url: str | None = typer.Option(
        None, help="Read the ledger from the sandbox gateway's tables instead of over HTTP."
    ),
    contract: list[str] = typer.Option([], "--contract", help="Only this contract (repeatable)."),
    json_path: Path | None = typer.Option(None, "--json", help="Also write the findings to this JSON file."),
    plain: bool | None = typer.Option(
        None, "--plain/--table", help="Plain lines or a table (default: a table on a terminal)."
    ),
    in_flight_grace: float = typer.Option(
        300.0, help="Seconds a pending attempt may await the gateway's answer before its charge is reported."
    ),
) -> None:
    """Compare the gateway's ledger with our attempts, plans, entitlements and counters; print every
    discrepancy. Exit 0 when clean, 1 on any discrepancy, 2 when the books cannot be read."""
    from reconcile.command import run_reconcile

    settings = Settings()
    raise typer.Exit(
        run_reconcile(
            database_url=database_url or settings.database_url,
            gateway_url=gateway_url or settings.gateway_url,
            gateway_database_url=gateway_database_url,
            contract_ids=contract,
            json_path=json_path,
            plain=plain,
            in_flight_grace_seconds=in_flight_grace,
        )
    )


@app.command()
def bench(
    phases: str = typer.Option(
        "all",
        help="Phases to run, comma-separated: throughput, events, codec, burst, signup, memory, claims, "
        "mqtt (or all).",
    ),
    subscriptions: int | None = typer.Option(
        None,
        min=1,
        help="Throughput load: subscriptions (and bare workflows) per run. Default: doubled from "
        "--saturation-start until the baseline's periods/s rises by less than 10 %.",
    ),
    saturation_start: int = typer.Option(100, min=1, help="The load search's first load."),
    saturation_ceiling: int = typer.Option(3200, min=1, help="The load search's highest load."),
    periods: int = typer.Option(
        5, min=2, help="Periods each runs (PT1S cycle): the first is the signup's, the rest renewals."
    ),
    signup_samples: int = typer.Option(20, min=1, help="Sequential signups timed."),
    open_subscriptions: int = typer.Option(
        300,
        min=1,
        help="Monthly subscriptions left open (worker memory, bytes and signup rate at that size).",
    ),
    signup_rate_samples: int = typer.Option(
        100, min=1, help="Signups timed as a rate before and after the open subscriptions."
    ),
    persist_temporal: bool = typer.Option(
        False, help="Keep the Temporal dev server's database in a file (its bytes per subscription)."
    ),
    burst: int = typer.Option(1000, min=1, help="Month-start burst: subscriptions due at one instant."),
    claims: int = typer.Option(600, min=1, help="Voucher claims on one hot voucher, per measurement."),
    claim_concurrency: int = typer.Option(
        32, min=1, help="Concurrent claimers (and raw UPDATE connections); fewer when there are fewer claims."
    ),
    rounds: int = typer.Option(
        2,
        min=1,
        help="Rounds of baseline and engine, run B E, E B, ... (the ratio compares their means).",
    ),
    warmup_subscriptions: int = typer.Option(
        20, min=0, help="Subscriptions (and bare workflows) run unmeasured before the first round; 0: none."
    ),
    timer_shift_ms: int | None = typer.Option(
        None,
        min=1,
        help="How far ahead the dev server's timer queue reads, in ms (default: the server's own, 1000). A "
        "timer shorter than this fires after about this long.",
    ),
    json_path: Path | None = typer.Option(None, "--json", help="Also write the figures to this JSON file."),
) -> None:
    """Measure the engine against bare Temporal at saturating load, the month-start burst, events, the
    payload codec, signups, memory and voucher claims (one run; its own PostgreSQL and in-memory Temporal
    unless DATABASE_URL / TEMPORAL_ADDRESS are set)."""
    import os

    from bench.options import PHASES, BenchOptions
    from bench.run import run_bench
    from bench.system import StackFailed

    chosen = tuple(PHASES) if phases == "all" else tuple(p.strip() for p in phases.split(",") if p.strip())
    unknown = sorted(set(chosen) - set(PHASES))
    if unknown or not chosen:
        raise typer.BadParameter(
            f"unknown phase(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(PHASES)}",
            param_hint="--phases",
        )
    try:
        run_bench(
            BenchOptions(
                phases=chosen,
                subscriptions=subscriptions,
                saturation_start=saturation_start,
                saturation_ceiling=max(saturation_ceiling, saturation_start),
                periods=periods,
                signup_samples=signup_samples,
                open_subscriptions=open_subscriptions,
                signup_rate_samples=signup_rate_samples,
                persist_temporal=persist_temporal,
                burst=burst,
                claims=claims,
                claim_concurrency=claim_concurrency,
                rounds=rounds,
                warmup_subscriptions=warmup_subscriptions,
                timer_shift_ms=timer_shift_ms,
                database_url=os.environ.get("DATABASE_URL"),
                temporal_address=os.environ.get("TEMPORAL_ADDRESS"),
            ),
            json_path,
        )
    except StackFailed as failed:
        typer.echo(f"bench: {failed}", err=True)
        raise typer.Exit(1) from None


if __name__ == "__main__":
    app()
