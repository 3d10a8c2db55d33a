"""devices: a retained MQTT state per device, its version, and the queue of devices to publish

`device_states` holds each device's current version; versions come from one sequence, so a version never
repeats, even for a publish whose transaction was rolled back after the broker took it. Inserting
`entitlement.opened` / `entitlement.revoked` events queues their devices in `device_changes`, in the
transaction that writes the event, so no change can be committed without its device being queued. The
publisher finds them with a probe (events/wakeup.py).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE device_state_version AS bigint")
    op.create_table(
        "device_states",
        sa.Column("device_id", sa.String(length=100), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "device_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("device_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    # Per statement, from the rows it inserted: the settlement writes a period's events in one statement,
    # and this adds one INSERT to it, not one per device.
    op.execute(
        """
        CREATE FUNCTION queue_device_changes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO device_changes (device_id)
            SELECT DISTINCT data->>'device_id' FROM inserted_events
            WHERE type IN ('entitlement.opened', 'entitlement.revoked') AND data ? 'device_id';
            RETURN NULL;
        END $$;
        CREATE TRIGGER events_queue_devices AFTER INSERT ON events
            REFERENCING NEW TABLE AS inserted_events
            FOR EACH STATEMENT EXECUTE FUNCTION queue_device_changes();
        """
    )
    # Entitlement events written before this migration: every device they name gets its first state.
    op.execute(
        """
        INSERT INTO device_changes (device_id)
        SELECT DISTINCT data->>'device_id' FROM events
        WHERE type IN ('entitlement.opened', 'entitlement.revoked') AND data ? 'device_id'
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS events_queue_devices ON events")
    op.execute("DROP FUNCTION IF EXISTS queue_device_changes()")
    op.drop_table("device_changes")
    op.drop_table("device_states")
    op.execute("DROP SEQUENCE IF EXISTS device_state_version")
