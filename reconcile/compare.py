"""Every discrepancy in a set of books, in a stable order (contract, period, kind, subject). Pure."""

from __future__ import annotations

from datetime import datetime

from reconcile.books import Books, CounterReading
from reconcile.charges import compare_charges
from reconcile.coverage import compare_coverage
from reconcile.findings import Discrepancy, Kind
from reconcile.outbox import compare_events


def compare_counters(readings: tuple[CounterReading, ...]) -> list[Discrepancy]:
    return [
        Discrepancy(
            kind=Kind.COUNTER_MISMATCH,
            subject=f"{reading.owner} {reading.counter}",
            detail=f"counter says {reading.value}, {reading.rows} rows",
        )
        for reading in readings
        if reading.value != reading.rows
    ]


def find_discrepancies(books: Books, *, in_flight_since: datetime | None = None) -> list[Discrepancy]:
    """`in_flight_since`: pending attempts written at or after this instant may still be waiting for the
    gateway's answer, so a gateway charge they have not recorded yet is not reported. None: report all."""
    found = [
        *compare_charges(books, in_flight_since=in_flight_since),
        *compare_coverage(books),
        *compare_counters(books.counters),
        *compare_events(books),
    ]
    return sorted(found, key=lambda d: d.sort_key)
