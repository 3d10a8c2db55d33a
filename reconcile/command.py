"""`iot-billing reconcile`: the command behind the CLI's options. Exit 0 clean, 1 on any discrepancy,
2 when the books cannot be read."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import httpx
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from reconcile.ledger import DatabaseLedger, HttpLedger, LedgerSource
from reconcile.report import render, write_json
from reconcile.run import reconcile

EXIT_CLEAN = 0
EXIT_DISCREPANCIES = 1
EXIT_UNREADABLE = 2


def run_reconcile(
    *,
    database_url: str,
    gateway_url: str,
    gateway_database_url: str | None = None,
    contract_ids: Sequence[str] = (),
    json_path: Path | None = None,
    plain: bool | None = None,
    in_flight_grace_seconds: float = 300.0,
    console: Console | None = None,
) -> int:
    console = console or Console()
    ledger: LedgerSource = (
        DatabaseLedger(gateway_database_url) if gateway_database_url else HttpLedger(gateway_url)
    )
    try:
        report = reconcile(
            database_url=database_url,
            ledger=ledger,
            contract_ids=contract_ids,
            in_flight_grace=timedelta(seconds=in_flight_grace_seconds),
        )
    except (httpx.HTTPError, SQLAlchemyError, ValidationError, ValueError) as failure:
        print(f"reconcile: cannot read the books: {type(failure).__name__}: {failure}", file=sys.stderr)
        return EXIT_UNREADABLE
    render(report, console, plain=not console.is_terminal if plain is None else plain)
    if json_path is not None:
        write_json(report, json_path)
    return EXIT_CLEAN if report.clean else EXIT_DISCREPANCIES
