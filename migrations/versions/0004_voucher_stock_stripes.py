"""voucher stock in stripes, claimed by one function call

A voucher's stock moves from one counter on the voucher row, which every claim had to lock until its
commit, into 16 stripe rows; a claim takes whichever stripe no other claim holds. The claim itself becomes
one function call (idempotency key, per-user limit, claim row, stripe), so it costs one round trip.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STRIPES = 16

# Existing counts are spread over the stripes in order: stripe s holds stock/16 (the first stock%16
# one more) and as many of the claims already made as fit, lowest stripe first.
_BACKFILL = f"""
INSERT INTO voucher_stock_stripes (voucher_id, stripe, stock, claimed)
SELECT v.id, s.stripe, s.stock,
       greatest(0, least(s.stock, v.claimed_count - (s.before)))
FROM vouchers v
CROSS JOIN LATERAL (
    SELECT g AS stripe,
           v.stock / {STRIPES} + (CASE WHEN g < v.stock % {STRIPES} THEN 1 ELSE 0 END) AS stock,
           g * (v.stock / {STRIPES}) + least(g, v.stock % {STRIPES}) AS before
    FROM generate_series(0, {STRIPES - 1}) AS g
) s
"""

# Voucher-side conditions under a key-share lock on the voucher row: every change of the voucher's state
# or stock locks that row FOR UPDATE (vouchers.transitions.locked_voucher), so it waits for claims in
# flight, and a claim after it re-reads the new row. Then the user's
# holding (per-user limit), the claim row, and last one stripe with stock left: first any stripe no other
# claim holds, else wait for one. A refusal raises VC001, which rolls back everything the call wrote.
_CLAIM_FUNCTION = """
CREATE FUNCTION claim_voucher(
    p_voucher_id uuid, p_user_id text, p_claim_id uuid, p_now timestamptz,
    p_scope text, p_key text, p_request_hash text, p_record_id uuid
) RETURNS TABLE (replayed_claim_id text, replayed_request_hash text, voucher jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    claimed_voucher vouchers;
    taken smallint;
BEGIN
    IF p_key IS NOT NULL THEN
        INSERT INTO idempotency_records
            (id, scope, user_id, key, request_hash, resource_id, response_status, response_body)
        VALUES (p_record_id, p_scope, p_user_id, p_key, p_request_hash, p_claim_id::text, 201,
                jsonb_build_object('claim_id', p_claim_id::text))
        ON CONFLICT ON CONSTRAINT uq_idempotency_scope_user_key DO NOTHING;
        IF NOT FOUND THEN
            RETURN QUERY SELECT r.resource_id::text, r.request_hash::text, NULL::jsonb
                FROM idempotency_records r
                WHERE r.scope = p_scope AND r.user_id = p_user_id AND r.key = p_key;
            RETURN;
        END IF;
    END IF;
    SELECT * INTO claimed_voucher FROM vouchers v
    WHERE v.id = p_voucher_id AND v.status = 'enabled'
      AND v.claim_starts_at <= p_now AND v.claim_ends_at > p_now
      AND (cardinality(v.audience) = 0 OR p_user_id = ANY(v.audience))
    FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'voucher % is not claimable', p_voucher_id USING ERRCODE = 'VC001';
    END IF;
    INSERT INTO voucher_holdings AS h (voucher_id, user_id, claims_count)
    VALUES (p_voucher_id, p_user_id, 1)
    ON CONFLICT (voucher_id, user_id) DO UPDATE SET claims_count = h.claims_count + 1
    WHERE h.claims_count < claimed_voucher.per_user_limit;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'per-user limit reached on voucher %', p_voucher_id USING ERRCODE = 'VC001';
    END IF;
    INSERT INTO voucher_claims (id, voucher_id, user_id, status, claimed_at)
    VALUES (p_claim_id, p_voucher_id, p_user_id, 'claimed', p_now);
    -- Start at a stripe chosen by the claim id, so concurrent claims spread over the stripes.
    SELECT s.stripe INTO taken FROM voucher_stock_stripes s
    WHERE s.voucher_id = p_voucher_id AND s.claimed < s.stock
    ORDER BY (s.stripe + (hashtext(p_claim_id::text) & 15)) % 16
    LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        -- Every stripe with stock left is held by another claim: wait for one (it may sell out meanwhile).
        SELECT s.stripe INTO taken FROM voucher_stock_stripes s
        WHERE s.voucher_id = p_voucher_id AND s.claimed < s.stock
        ORDER BY s.stripe
        LIMIT 1 FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'voucher % is sold out', p_voucher_id USING ERRCODE = 'VC001';
        END IF;
    END IF;
    UPDATE voucher_stock_stripes SET claimed = claimed + 1
    WHERE voucher_id = p_voucher_id AND stripe = taken;
    RETURN QUERY SELECT NULL::text, NULL::text, to_jsonb(claimed_voucher);
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "voucher_stock_stripes",
        sa.Column("voucher_id", sa.Uuid(), nullable=False),
        sa.Column("stripe", sa.SmallInteger(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("claimed", sa.Integer(), nullable=False),
        sa.CheckConstraint("claimed >= 0 AND claimed <= stock", name="ck_voucher_stock_stripes_within_stock"),
        sa.ForeignKeyConstraint(["voucher_id"], ["vouchers.id"]),
        sa.PrimaryKeyConstraint("voucher_id", "stripe"),
    )
    op.execute(_BACKFILL)
    op.drop_constraint("ck_vouchers_redeemed_within_claimed", "vouchers", type_="check")
    op.drop_constraint("ck_vouchers_claimed_within_stock", "vouchers", type_="check")
    op.drop_column("vouchers", "claimed_count")
    op.execute(_CLAIM_FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION claim_voucher(uuid, text, uuid, timestamptz, text, text, text, uuid)")
    op.add_column("vouchers", sa.Column("claimed_count", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE vouchers v SET claimed_count = "
        "(SELECT coalesce(sum(s.claimed), 0) FROM voucher_stock_stripes s WHERE s.voucher_id = v.id)"
    )
    op.alter_column("vouchers", "claimed_count", server_default=None)
    op.create_check_constraint("ck_vouchers_claimed_within_stock", "vouchers", "claimed_count <= stock")
    op.create_check_constraint(
        "ck_vouchers_redeemed_within_claimed", "vouchers", "redeemed_count <= claimed_count"
    )
    op.drop_table("voucher_stock_stripes")
