"""Engine and session factories; nothing is built at import time."""

from __future__ import annotations

import select
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError
from sqlmodel import Session, create_engine

from infra.settings import sqlalchemy_url

SessionFactory = Callable[[], Session]


def make_engine(database_url: str, *, pool_size: int = 20) -> Engine:
    engine = create_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        # Connections die when PostgreSQL restarts; recycling keeps a long-lived worker healthy.
        pool_recycle=1800,
    )
    replace_hung_up_connections(engine)
    return engine


def replace_hung_up_connections(engine: Engine) -> None:
    """Hand out no pooled connection that PostgreSQL has closed (a restart, a terminated backend).

    In place of SQLAlchemy's pre-ping, which costs a round trip on every checkout: a server that ends a
    connection writes its goodbye, or the socket's end, to it, so an idle connection with anything to read
    is suspect, and only then is it pinged. The pool reconnects a connection found closed."""

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if _hung_up(engine, dbapi_connection):
            raise DisconnectionError("the server closed this pooled connection")


def _hung_up(engine: Engine, connection: psycopg.Connection[Any]) -> bool:
    if connection.closed or connection.broken:
        return True
    try:
        readable, _, _ = select.select([connection.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return True
    if not readable:
        return False
    try:
        # Something arrived unasked: a goodbye, or a harmless notice that the ping reads past.
        return engine.dialect.do_ping(cast("DBAPIConnection", connection)) is not True
    except psycopg.Error:
        return True


def make_session_factory(engine: Engine) -> SessionFactory:
    def factory() -> Session:
        return Session(engine, expire_on_commit=False)

    return factory


@contextmanager
def transaction(factory: SessionFactory) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def driver_connection(session: Session) -> psycopg.Connection[Any]:
    """The session's psycopg connection, inside the session's transaction: hot paths that never load ORM
    objects run plain SQL on it and skip SQLAlchemy's per-statement compile and bookkeeping."""
    return cast("psycopg.Connection[Any]", session.connection().connection.driver_connection)


def execute_alone(
    connection: psycopg.Connection[Any], query: str, params: dict[str, Any]
) -> psycopg.Cursor[Any]:
    """Run one statement; with no transaction open, as one autocommitted statement. A single statement is
    atomic either way, and on its own it needs no BEGIN and COMMIT round trips: the rows it locks are held
    for the server's work only, not while this thread waits for its turn (the GIL) to send a COMMIT. Its
    rows are fetched with it, so the cursor stays readable afterwards."""
    with alone(connection):
        return connection.execute(query, params)


@contextmanager
def reads_alone(connection: psycopg.Connection[Any]) -> Iterator[None]:
    """Statements run in this block go to the server together, in one round trip, and their cursors are
    readable after it. With no transaction open, each is autocommitted: for independent reads, which need
    neither one snapshot nor a BEGIN and COMMIT of their own. Inside a transaction they join it."""
    with alone(connection), connection.pipeline():
        yield


@contextmanager
def alone(connection: psycopg.Connection[Any]) -> Iterator[None]:
    """With no transaction open, what runs in the block is autocommitted: one statement on its own, or the
    statements of one pipeline together (a pipeline runs them as one implicit transaction until its sync)."""
    alone = connection.info.transaction_status is TransactionStatus.IDLE
    if alone:
        connection.autocommit = True
    try:
        yield
    finally:
        if alone and not (connection.closed or connection.broken):
            connection.autocommit = False
