"""Print a reconciliation: a rich table (on a terminal) or plain lines, a summary, and the JSON file."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from reconcile.findings import Discrepancy
from reconcile.run import Report


def summary(report: Report) -> str:
    checked = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in report.checked.items())
    if report.clean:
        return f"clean: no discrepancies ({checked})"
    kinds = ", ".join(f"{kind} {n}" for kind, n in report.by_kind().items())
    return f"{len(report.discrepancies)} discrepancies ({kinds}); checked {checked}"


def plain_line(found: Discrepancy) -> str:
    parts = [found.kind.value]
    if found.contract_id:
        parts.append(f"contract={found.contract_id}")
    if found.period is not None:
        parts.append(f"period={found.period}")
    parts.append(f"{found.subject}: {found.detail}")
    return " ".join(parts)


def _table(report: Report) -> Table:
    table = Table(title="Reconciliation discrepancies", show_lines=False)
    for column in ("kind", "contract", "period", "subject", "detail"):
        table.add_column(column, overflow="fold")
    for found in report.discrepancies:
        period = "" if found.period is None else str(found.period)
        # Text, not markup: a subject or detail may hold brackets.
        cells = (found.kind.value, found.contract_id or "", period, found.subject, found.detail)
        table.add_row(*(Text(cell) for cell in cells))
    return table


def render(report: Report, console: Console, *, plain: bool) -> None:
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    if plain:
        for found in report.discrepancies:
            console.print(plain_line(found), markup=False, highlight=False, soft_wrap=True)
    elif report.discrepancies:
        console.print(_table(report))
    console.print(summary(report), markup=False, highlight=False, soft_wrap=True)


def write_json(report: Report, path: Path) -> None:
    path.write_text(json.dumps(report.as_json(), indent=2) + "\n")
