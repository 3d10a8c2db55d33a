"""Alembic environment: the URL comes from the caller (infra.migrate) or DATABASE_URL, never from a file."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

import models.tables  # noqa: F401  (registers every table on the metadata)
from infra.settings import sqlalchemy_url

config = context.config
url = config.get_main_option("sqlalchemy.url") or os.environ["DATABASE_URL"]
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    context.configure(url=sqlalchemy_url(url), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
