"""The gateway's ledger against our charge attempts, matched by idempotency key, and double charges."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from gateway.protocol import ChargeStatus
from models.enums import AttemptStatus
from reconcile.books import Attempt, Books, GatewayCharge
from reconcile.findings import Discrepancy, Kind


def _money(amount_minor: int, currency: str) -> str:
    return f"{amount_minor} {currency}"


def _in_flight(attempt: Attempt, in_flight_since: datetime | None) -> bool:
    """A pending attempt written recently may be waiting for the gateway's answer right now."""
    return (
        attempt.status is AttemptStatus.PENDING
        and in_flight_since is not None
        and attempt.created_at >= in_flight_since
    )


def _differences(charge: GatewayCharge, attempt: Attempt, in_flight_since: datetime | None) -> list[str]:
    found: list[str] = []
    if (charge.amount_minor, charge.currency) != (attempt.amount_minor, attempt.currency):
        found.append(
            f"gateway charged {_money(charge.amount_minor, charge.currency)}, "
            f"our attempt is for {_money(attempt.amount_minor, attempt.currency)}"
        )
    if _in_flight(attempt, in_flight_since):
        return found
    if attempt.status is AttemptStatus.PENDING:
        found.append(f"gateway {charge.status.value}, our attempt is still pending")
        return found
    if charge.status.value != attempt.status.value:
        found.append(f"gateway {charge.status.value}, our attempt {attempt.status.value}")
    if attempt.gateway_charge_id != charge.charge_id:
        found.append(f"gateway charge {charge.charge_id}, our attempt records {attempt.gateway_charge_id}")
    return found


def _needs_gateway_charge(attempt: Attempt) -> bool:
    # A pending attempt the gateway never saw charged nobody: the workflow retries or gave up. A period
    # discounted to nothing (a voucher) is paid without calling the gateway at all.
    if attempt.status is AttemptStatus.PENDING:
        return False
    return not (attempt.amount_minor == 0 and attempt.gateway_charge_id is None)


def _doubles(keys: Iterable[tuple[str, int, str]], kind: Kind, where: str) -> list[Discrepancy]:
    by_period: dict[tuple[str, int], list[str]] = defaultdict(list)
    for contract_id, period, key in keys:
        by_period[(contract_id, period)].append(key)
    return [
        Discrepancy(
            kind=kind,
            subject=", ".join(sorted(keys_)),
            detail=f"{len(keys_)} successful charges {where} for one period",
            contract_id=contract_id,
            period=period,
        )
        for (contract_id, period), keys_ in by_period.items()
        if len(keys_) > 1
    ]


def compare_charges(books: Books, *, in_flight_since: datetime | None = None) -> list[Discrepancy]:
    attempts = {a.idempotency_key: a for a in books.attempts}
    charged = {c.idempotency_key for c in books.gateway}
    found: list[Discrepancy] = []
    for charge in books.gateway:
        attempt = attempts.get(charge.idempotency_key)
        if attempt is None:
            found.append(
                Discrepancy(
                    kind=Kind.CHARGE_WITHOUT_ATTEMPT,
                    subject=charge.idempotency_key,
                    detail=f"gateway {charge.status.value} charge {charge.charge_id} "
                    f"({_money(charge.amount_minor, charge.currency)}) has no attempt of ours",
                    contract_id=charge.contract_id,
                    period=charge.period,
                )
            )
            continue
        differences = _differences(charge, attempt, in_flight_since)
        if differences:
            found.append(
                Discrepancy(
                    kind=Kind.CHARGE_MISMATCH,
                    subject=charge.idempotency_key,
                    detail="; ".join(differences),
                    contract_id=charge.contract_id,
                    period=charge.period,
                )
            )
    found += [
        Discrepancy(
            kind=Kind.ATTEMPT_WITHOUT_CHARGE,
            subject=attempt.idempotency_key,
            detail=f"our attempt is {attempt.status.value} "
            f"({_money(attempt.amount_minor, attempt.currency)}) but the gateway has no such charge",
            contract_id=attempt.contract_id,
            period=attempt.period,
        )
        for attempt in books.attempts
        if attempt.idempotency_key not in charged and _needs_gateway_charge(attempt)
    ]
    found += _doubles(
        (
            (c.contract_id, c.period, c.idempotency_key)
            for c in books.gateway
            if c.status is ChargeStatus.SUCCEEDED
        ),
        Kind.DUPLICATE_CHARGE,
        "in the gateway's ledger",
    )
    found += _doubles(
        (
            (a.contract_id, a.period, a.idempotency_key)
            for a in books.attempts
            if a.status is AttemptStatus.SUCCEEDED
        ),
        Kind.DUPLICATE_ATTEMPT,
        "in our attempts",
    )
    return found
