"""Counters against the rows behind them: every voucher's pushed and redeemed counts, its stock stripes'
claimed counts (summed) and every user's holding must equal what the push and claim rows say. Empty means
consistent."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import TextClause, text
from sqlmodel import Session

# One query per invariant, readable as SQL: this is the check an operator would run by hand.
_VOUCHER_COUNTERS = text(
    """
    SELECT v.id, c.name, c.counter, c.rows
    FROM vouchers v
    CROSS JOIN LATERAL (VALUES
        ('pushed_count', v.pushed_count,
            (SELECT count(*) FROM voucher_pushes p WHERE p.voucher_id = v.id)),
        ('claimed_count',
            (SELECT coalesce(sum(s.claimed), 0) FROM voucher_stock_stripes s WHERE s.voucher_id = v.id),
            (SELECT count(*) FROM voucher_claims c WHERE c.voucher_id = v.id)),
        ('redeemed_count', v.redeemed_count,
            (SELECT count(*) FROM voucher_claims c WHERE c.voucher_id = v.id AND c.status = 'used'))
    ) AS c(name, counter, rows)
    """
)
_HOLDING_DRIFT = text(
    """
    SELECT coalesce(h.voucher_id, c.voucher_id), 'holding:' || coalesce(h.user_id, c.user_id),
           coalesce(h.claims_count, 0), coalesce(c.rows, 0)
    FROM voucher_holdings h
    FULL JOIN (
        SELECT voucher_id, user_id, count(*) AS rows FROM voucher_claims GROUP BY voucher_id, user_id
    ) c
        ON c.voucher_id = h.voucher_id AND c.user_id = h.user_id
    WHERE coalesce(h.claims_count, 0) <> coalesce(c.rows, 0)
    """
)


@dataclass(frozen=True)
class CounterDrift:
    voucher_id: uuid.UUID
    counter: str
    counter_value: int
    rows: int


def _pairs(session: Session, query: TextClause) -> list[CounterDrift]:
    return [CounterDrift(v, name, int(value), int(rows)) for v, name, value, rows in session.execute(query)]


def voucher_counters(session: Session) -> list[CounterDrift]:
    """Every voucher's pushed_count, claimed_count and redeemed_count beside the rows they count, equal or
    not (reconcile reports how many it checked)."""
    return _pairs(session, _VOUCHER_COUNTERS)


def counter_drift(session: Session) -> list[CounterDrift]:
    """Every counter that disagrees with its rows, the per-user holdings included."""
    drifted = [c for c in voucher_counters(session) if c.counter_value != c.rows]
    return drifted + _pairs(session, _HOLDING_DRIFT)
