"""A voucher's stock, kept in stripes so that concurrent claims do not queue on one row.

The operator sets one stock; it is spread over STRIPES rows whose stock adds up to it. A claim (the
`claim_voucher` database function, migration 0004) takes one stripe that no other claim holds and raises
its `claimed`, so N concurrent claims lock N different rows. How many are claimed is the sum over the
stripes; the stock is sold out when every stripe is."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, ScalarSelect, exists, func, select, text
from sqlmodel import Session, col

from models.voucher import Voucher, VoucherStockStripe

# Must match the function's `% 16`: a claim starts looking at a stripe chosen by its claim id.
STRIPES = 16


class StockBelowClaims(ValueError):
    """A stock smaller than the claims already made on it."""


def split_stock(stock: int, claimed: Sequence[int]) -> list[int]:
    """Stripe stocks adding up to `stock`, each at least its stripe's claims; what is left unclaimed is
    spread evenly, lower stripes taking the remainder. Raises StockBelowClaims."""
    left = stock - sum(claimed)
    if left < 0:
        raise StockBelowClaims(f"stock {stock} is below the {sum(claimed)} claims already made")
    share, extra = divmod(left, len(claimed))
    return [taken + share + (1 if stripe < extra else 0) for stripe, taken in enumerate(claimed)]


def add_stripes(session: Session, *, voucher_id: uuid.UUID, stock: int) -> None:
    """The stripes of a new voucher, nothing claimed."""
    stocks = split_stock(stock, [0] * STRIPES)
    session.add_all(
        VoucherStockStripe(voucher_id=voucher_id, stripe=stripe, stock=each, claimed=0)
        for stripe, each in enumerate(stocks)
    )
    session.flush()


_RESTOCK = text(
    """
    UPDATE voucher_stock_stripes s SET stock = new.stock
    FROM unnest(CAST(:stripes AS smallint[]), CAST(:stocks AS integer[])) AS new(stripe, stock)
    WHERE s.voucher_id = :voucher_id AND s.stripe = new.stripe
    """
)


def restock(session: Session, *, voucher_id: uuid.UUID, stock: int) -> None:
    """Spread a changed stock over the stripes, none below its claims (raises StockBelowClaims, changing
    nothing). The caller holds the voucher row's lock, so no claim is in flight."""
    rows = session.execute(
        select(col(VoucherStockStripe.stripe), col(VoucherStockStripe.claimed))
        .where(col(VoucherStockStripe.voucher_id) == voucher_id)
        .order_by(col(VoucherStockStripe.stripe))
        .with_for_update()
    ).all()
    stripes = [int(stripe) for stripe, _ in rows]
    stocks = split_stock(stock, [int(claimed) for _, claimed in rows])
    session.execute(_RESTOCK, {"voucher_id": voucher_id, "stripes": stripes, "stocks": stocks})


def claimed_counts(session: Session, voucher_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many of each voucher's stock are claimed (0 for a voucher with no stripes)."""
    wanted = list(set(voucher_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(col(VoucherStockStripe.voucher_id), func.sum(col(VoucherStockStripe.claimed)))
        .where(col(VoucherStockStripe.voucher_id).in_(wanted))
        .group_by(col(VoucherStockStripe.voucher_id))
    )
    found = {voucher_id: int(total) for voucher_id, total in rows}
    return {voucher_id: found.get(voucher_id, 0) for voucher_id in wanted}


def claimed_count(session: Session, voucher_id: uuid.UUID) -> int:
    return claimed_counts(session, [voucher_id])[voucher_id]


def claimed_total() -> ScalarSelect[int]:
    """The voucher's claims as a correlated subquery on `Voucher`, for queries that list vouchers."""
    return (
        select(func.coalesce(func.sum(col(VoucherStockStripe.claimed)), 0))
        .where(col(VoucherStockStripe.voucher_id) == col(Voucher.id))
        .scalar_subquery()
    )


def has_stock_left() -> ColumnElement[bool]:
    """Some stripe of the voucher still has stock, as SQL on `Voucher`."""
    return exists().where(
        col(VoucherStockStripe.voucher_id) == col(Voucher.id),
        col(VoucherStockStripe.claimed) < col(VoucherStockStripe.stock),
    )
