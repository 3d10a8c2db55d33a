"""products: renewal_notice, how long before each renewal charge the user is told of it

An ISO-8601 duration, or null for no notice. Products already sold on cycles of a month or more get the
default the catalog API gives new ones (P3D); shorter cycles get none.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Month and year cycles, and day or week cycles of at least 28 days (the shortest month).
_MONTH_OR_MORE = r"""
billing_cycle ~ '^P(\d+Y)?(\d+M)?$'
OR (billing_cycle ~ '^P(\d+W)?(\d+D)?$'
    AND coalesce(substring(billing_cycle FROM '(\d+)W')::int, 0) * 7
        + coalesce(substring(billing_cycle FROM '(\d+)D')::int, 0) >= 28)
"""


def upgrade() -> None:
    op.add_column("products", sa.Column("renewal_notice", sa.String(length=40), nullable=True))
    op.execute(f"UPDATE products SET renewal_notice = 'P3D' WHERE {_MONTH_OR_MORE}")


def downgrade() -> None:
    op.drop_column("products", "renewal_notice")
