"""A PostgreSQL server of one test's own, for tests that stop and restart it: restarting the session's
would disturb every other test."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.embedded_pg import EmbeddedPostgres, database_url, ensure_database
from infra.migrate import upgrade


@contextmanager
def own_postgres_server() -> Iterator[tuple[EmbeddedPostgres, str]]:
    """The server and its migrated `iot_billing` database. Its data lives outside pytest's temp tree: a
    pytest session starting meanwhile makes that tree private again (mode 0700), and PostgreSQL, running
    as its own user, could then not be restarted in it."""
    with tempfile.TemporaryDirectory(prefix="iot-billing-pg-") as directory:
        server = EmbeddedPostgres(Path(directory) / "data")
        url = server.start()
        try:
            ensure_database(url, "iot_billing")
            database = database_url(url, "iot_billing")
            upgrade(database)
            yield server, database
        finally:
            server.stop()
