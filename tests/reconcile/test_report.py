"""How findings are printed: a table or plain lines, notes, a summary with counts by kind, and JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from reconcile.findings import Discrepancy, Kind
from reconcile.report import plain_line, render, summary, write_json
from reconcile.run import Report

CHECKED = {"contracts": 1, "gateway_charges": 3, "attempts": 3}
FOUND = (
    Discrepancy(Kind.COUNTER_MISMATCH, "voucher v1 claimed_count", "counter says 2, 1 rows"),
    Discrepancy(Kind.CHARGE_WITHOUT_ATTEMPT, "charge:c1:p1:a1", "no attempt of ours", "c1", 1),
    Discrepancy(Kind.CHARGE_WITHOUT_ATTEMPT, "charge:c1:p2:a1", "no attempt of ours", "c1", 2),
)


def printed(report: Report, *, plain: bool) -> str:
    out = io.StringIO()
    render(report, Console(file=out, width=200), plain=plain)
    return out.getvalue()


def test_clean_report() -> None:
    report = Report(
        discrepancies=(), checked=CHECKED, notes=("voucher counters not checked: no vouchers table",)
    )
    assert report.clean
    assert printed(report, plain=True).splitlines() == [
        "note: voucher counters not checked: no vouchers table",
        "clean: no discrepancies (1 contracts, 3 gateway charges, 3 attempts)",
    ]


def test_plain_lines_and_summary() -> None:
    report = Report(discrepancies=FOUND, checked=CHECKED)
    assert (
        plain_line(FOUND[1])
        == "charge_without_attempt contract=c1 period=1 charge:c1:p1:a1: no attempt of ours"
    )
    assert plain_line(FOUND[0]) == "counter_mismatch voucher v1 claimed_count: counter says 2, 1 rows"
    assert summary(report) == (
        "3 discrepancies (charge_without_attempt 2, counter_mismatch 1); "
        "checked 1 contracts, 3 gateway charges, 3 attempts"
    )
    assert printed(report, plain=True).splitlines()[:3] == [plain_line(d) for d in FOUND]


def test_table() -> None:
    text = printed(Report(discrepancies=FOUND, checked=CHECKED), plain=False)
    assert "Reconciliation discrepancies" in text
    assert "charge:c1:p2:a1" in text and "counter says 2, 1 rows" in text


def test_json(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    write_json(Report(discrepancies=FOUND[:2], checked=CHECKED, notes=("n",)), path)
    assert json.loads(path.read_text()) == {
        "clean": False,
        "discrepancy_count": 2,
        "by_kind": {"charge_without_attempt": 1, "counter_mismatch": 1},
        "checked": CHECKED,
        "notes": ["n"],
        "discrepancies": [
            {
                "kind": "counter_mismatch",
                "subject": "voucher v1 claimed_count",
                "detail": "counter says 2, 1 rows",
                "contract_id": None,
                "period": None,
            },
            {
                "kind": "charge_without_attempt",
                "subject": "charge:c1:p1:a1",
                "detail": "no attempt of ours",
                "contract_id": "c1",
                "period": 1,
            },
        ],
    }
