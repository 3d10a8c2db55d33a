"""One reconciliation: read our books, then the gateway's ledger, compare, and say what was checked."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from infra.db import make_engine
from reconcile.books import Books, CounterReading
from reconcile.compare import find_discrepancies
from reconcile.database import read_counters, read_records
from reconcile.findings import Discrepancy
from reconcile.ledger import LedgerSource


@dataclass(frozen=True)
class Report:
    discrepancies: tuple[Discrepancy, ...]
    checked: dict[str, int]
    notes: tuple[str, ...] = field(default=())

    @property
    def clean(self) -> bool:
        return not self.discrepancies

    def by_kind(self) -> dict[str, int]:
        return dict(sorted(Counter(d.kind.value for d in self.discrepancies).items()))

    def as_json(self) -> dict[str, object]:
        return {
            "clean": self.clean,
            "discrepancy_count": len(self.discrepancies),
            "by_kind": self.by_kind(),
            "checked": self.checked,
            "notes": list(self.notes),
            "discrepancies": [d.as_json() for d in self.discrepancies],
        }


def reconcile(
    *,
    database_url: str,
    ledger: LedgerSource,
    contract_ids: Sequence[str] = (),
    in_flight_grace: timedelta = timedelta(0),
) -> Report:
    """`in_flight_grace`: how long a pending attempt may wait for the gateway's answer before a charge the
    gateway made under its key counts as a discrepancy (0: any attempt written before this call began)."""
    started = datetime.now(UTC)
    engine = make_engine(database_url, pool_size=1)
    try:
        # Ours first, then the gateway's: an attempt we recorded as finished is then always in the ledger
        # read after it, and the only race left is a pending attempt, which the grace covers.
        ours = read_records(engine, contract_ids=contract_ids)
        counters: tuple[CounterReading, ...]
        notes: tuple[str, ...]
        if contract_ids:
            counters, notes = (), ("voucher counters not checked: they are global, and --contract was given",)
        else:
            read = read_counters(engine)
            counters, notes = read.readings, read.notes
    finally:
        engine.dispose()
    books = Books(
        gateway=tuple(ledger.charges(contract_ids)),
        attempts=ours.attempts,
        plans=ours.plans,
        entitlements=ours.entitlements,
        contracts=ours.contracts,
        counters=counters,
        events=ours.events,
    )
    found = find_discrepancies(books, in_flight_since=started - in_flight_grace)
    checked = {
        "contracts": len(books.contracts),
        "gateway_charges": len(books.gateway),
        "attempts": len(books.attempts),
        "plans": len(books.plans),
        "entitlements": len(books.entitlements),
        "counters": len(books.counters),
        "events": len(ours.events),
    }
    return Report(discrepancies=tuple(found), checked=checked, notes=notes)
