"""billing day: products may align their periods to a day of the month, and contracts keep the day they
were signed with

`products.billing_day` (1-28, or NULL for the signup anniversary) and `products.signup_billing_day_allowed`
(whether a signup may choose its own day); `contracts.billing_day` is the day a contract's periods follow.
The checks repeat the API's rule in the database, so no writer can store day 0 or 29-31.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DAY = "billing_day BETWEEN 1 AND 28"


def upgrade() -> None:
    op.add_column("products", sa.Column("billing_day", sa.SmallInteger(), nullable=True))
    op.add_column(
        "products",
        sa.Column("signup_billing_day_allowed", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_check_constraint("ck_products_billing_day", "products", _DAY)
    op.add_column("contracts", sa.Column("billing_day", sa.SmallInteger(), nullable=True))
    op.create_check_constraint("ck_contracts_billing_day", "contracts", _DAY)


def downgrade() -> None:
    op.drop_constraint("ck_contracts_billing_day", "contracts", type_="check")
    op.drop_column("contracts", "billing_day")
    op.drop_constraint("ck_products_billing_day", "products", type_="check")
    op.drop_column("products", "signup_billing_day_allowed")
    op.drop_column("products", "billing_day")
