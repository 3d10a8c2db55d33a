"""claim_voucher: the first stripe search undoes the locks it could not use before the claim waits

`FOR UPDATE SKIP LOCKED` keeps the lock on a row it found sold out on a second look (another claim sold
the stripe out after the search began). A claim that then waited for a stripe, in stripe order, held that
lock while waiting, and a claim waiting in stripe order for it could hold the stripe the first waited for:
a deadlock, which PostgreSQL ends by failing one claim. The first search now runs in a sub-transaction
that is undone when it finds nothing, so a claim waits holding no stripe, and waiters, all taking stripes
in one order, cannot deadlock.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:40:00
"""

from collections.abc import Sequence

from alembic import op

from migrations import revisions

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIRST_SEARCH = """    SELECT s.stripe INTO taken FROM voucher_stock_stripes s
    WHERE s.voucher_id = p_voucher_id AND s.claimed < s.stock
    ORDER BY (s.stripe + (hashtext(p_claim_id::text) & 15)) % 16
    LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
"""

_FIRST_SEARCH_UNDONE_IF_EMPTY = """    BEGIN
        SELECT s.stripe INTO taken FROM voucher_stock_stripes s
        WHERE s.voucher_id = p_voucher_id AND s.claimed < s.stock
        ORDER BY (s.stripe + (hashtext(p_claim_id::text) & 15)) % 16
        LIMIT 1 FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'VC002';
        END IF;
    EXCEPTION WHEN SQLSTATE 'VC002' THEN
        -- Undone: the rows the search locked but found sold out are released before the claim waits.
        taken := NULL;
    END;
    IF taken IS NULL THEN
"""


def _function_of_0004() -> str:
    """The function as migration 0004 created it."""
    created: str = revisions.load("0004_voucher_stock_stripes.py")._CLAIM_FUNCTION
    return created.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    before = _function_of_0004()
    assert before.count(_FIRST_SEARCH) == 1, "migration 0004's first stripe search is not where expected"
    op.execute(before.replace(_FIRST_SEARCH, _FIRST_SEARCH_UNDONE_IF_EMPTY))


def downgrade() -> None:
    op.execute(_function_of_0004())
