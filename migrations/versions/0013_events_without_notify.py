"""events: drop the insert trigger's NOTIFY

PostgreSQL serialises the commits of transactions that notify, so the statement trigger 0009 put on
`events` made every transaction that writes an event commit one at a time. The dispatcher and the
device publisher now probe for new work instead (events/wakeup.py).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 18:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS events_notify ON events; DROP FUNCTION IF EXISTS notify_new_events();")


def downgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION notify_new_events() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('iot_billing_events', '');
            RETURN NULL;
        END $$;
        CREATE TRIGGER events_notify AFTER INSERT ON events
            FOR EACH STATEMENT EXECUTE FUNCTION notify_new_events();
        """
    )
