"""Engine and session factories; nothing is built at import time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from sqlalchemy import Engine
from sqlmodel import Session, create_engine

from infra.settings import sqlalchemy_url

SessionFactory = Callable[[], Session]


def make_engine(database_url: str, *, pool_size: int = 20) -> Engine:
    return create_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # Connections die when PostgreSQL restarts; recycling keeps a long-lived worker healthy.
        pool_recycle=1800,
    )


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
