"""events: the transactional outbox of billing events

Each event is written in the transaction of the change it reports. Its id comes from business keys, so a
retried activity writes no twin; `sequence` numbers a subscription's events without gaps; `position`
orders the whole feed for catch-up; `dispatched_at` marks events whose deliveries are planned.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("position", sa.BigInteger(), sa.Identity(), nullable=False, unique=True),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=True),
        sa.Column("voucher_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=True),
        sa.Column("data", JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("subscription_id", "sequence", name="uq_events_subscription_sequence"),
    )
    op.create_index("ix_events_subscription_id", "events", ["subscription_id"])
    op.create_index("ix_events_voucher_id", "events", ["voucher_id"])
    op.create_index("ix_events_type_position", "events", ["type", "position"])
    op.create_index(
        "ix_events_undispatched", "events", ["position"], postgresql_where=sa.text("dispatched_at IS NULL")
    )
    # The next sequence number of each subscription's events, taken under the contract's row lock.
    op.add_column(
        "contracts", sa.Column("event_sequence", sa.BigInteger(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    op.drop_column("contracts", "event_sequence")
    op.drop_table("events")
