"""claim_voucher: a claim that finds every stripe taken is undone and called again to wait, not undone in part

Migration 0005 ran the first stripe search in a sub-transaction, so that the locks it kept on stripes found
sold out on a second look were released before the claim waited. The sub-transaction, entered by every
claim, cost much of a claim's throughput on one hot voucher (docs/benchmarks.md).

Now the first call never waits: when no stripe with stock is free it raises VC002 and the whole call is
undone, its locks with it. The caller calls again with `p_wait`, and that call waits for a stripe in stripe
order, holding no other stripe: every waiter takes stripes in one order, so waiters cannot deadlock, and a
claim that does not wait never holds up one that does for longer than its own statement. A voucher with no
stock left is refused as sold out by the first call. A call inside a caller's transaction waits at once (the
caller's transaction cannot be undone in part).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:30:00
"""

from collections.abc import Sequence

from alembic import op

from migrations import revisions

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migration 0004's stripe searches: from the first of these lines to the second, replaced whole.
_SEARCHES_BEGIN = "    -- Start at a stripe chosen by the claim id"
_SEARCHES_END = "    UPDATE voucher_stock_stripes SET claimed = claimed + 1"

_STRIPE_SEARCH_OR_CALL_AGAIN = """    IF NOT p_wait THEN
        -- Start at a stripe chosen by the claim id, so concurrent claims spread over the stripes.
        SELECT s.stripe INTO taken FROM voucher_stock_stripes s
        WHERE s.voucher_id = p_voucher_id AND s.claimed < s.stock
        ORDER BY (s.stripe + (hashtext(p_claim_id::text) & 15)) % 16
        LIMIT 1 FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            IF NOT EXISTS (SELECT FROM voucher_stock_stripes s
                           WHERE s.voucher_id = p_voucher_id AND s.claimed < s.stock) THEN
                RAISE EXCEPTION 'voucher % is sold out', p_voucher_id USING ERRCODE = 'VC001';
            END IF;
            -- Undone whole, with the locks this search kept on stripes it found sold out on a second look.
            RAISE EXCEPTION 'every stripe of voucher % is taken', p_voucher_id USING ERRCODE = 'VC002';
        END IF;
    ELSE
        -- Called again to wait: for a stripe in stripe order, holding no other.
        SELECT s.stripe INTO taken FROM voucher_stock_stripes s
        WHERE s.voucher_id = p_voucher_id AND s.claimed < s.stock
        ORDER BY s.stripe
        LIMIT 1 FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'voucher % is sold out', p_voucher_id USING ERRCODE = 'VC001';
        END IF;
    END IF;
"""

_PARAMETERS = "p_record_id uuid\n)"
_PARAMETERS_WITH_WAIT = "p_record_id uuid,\n    p_wait boolean\n)"


def upgrade() -> None:
    created: str = revisions.load("0004_voucher_stock_stripes.py")._CLAIM_FUNCTION
    assert created.count(_SEARCHES_BEGIN) == 1 and created.count(_SEARCHES_END) == 1, (
        "migration 0004's stripe searches are not where expected"
    )
    assert created.count(_PARAMETERS) == 1, "migration 0004's parameters are not where expected"
    begin, end = created.index(_SEARCHES_BEGIN), created.index(_SEARCHES_END)
    function = created[:begin] + _STRIPE_SEARCH_OR_CALL_AGAIN + created[end:]
    op.execute("DROP FUNCTION claim_voucher(uuid, text, uuid, timestamptz, text, text, text, uuid)")
    op.execute(function.replace(_PARAMETERS, _PARAMETERS_WITH_WAIT))


def downgrade() -> None:
    op.execute("DROP FUNCTION claim_voucher(uuid, text, uuid, timestamptz, text, text, text, uuid, boolean)")
    revisions.load("0005_claim_search_releases_stray_locks.py").upgrade()
