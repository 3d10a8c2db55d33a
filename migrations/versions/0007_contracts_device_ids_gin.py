"""contracts.device_ids: a GIN index, so finding a running subscription that already holds a device does
not read every contract

Every signup asks twice (the API's check and signing's final one) which running subscription for the
product's resource type shares a device with the new group: `device_ids && $devices`. With no index on the
array, each ask reads every running contract, and in service that is every subscription there is.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 04:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_contracts_device_ids", "contracts", ["device_ids"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_contracts_device_ids", table_name="contracts")
