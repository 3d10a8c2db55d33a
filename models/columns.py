"""Column helpers shared by the tables: aware timestamps, string arrays, JSONB."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ARRAY, Column, DateTime, String, func
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(UTC)


def now_column() -> Any:
    # The server default covers Core inserts (upserts), which skip Python-side defaults.
    return Field(
        default_factory=utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def string_array() -> Any:
    return Field(default_factory=list, sa_column=Column(ARRAY(String), nullable=False))


def jsonb() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))


def enum_column(enum_cls: type[StrEnum], default: StrEnum, *, index: bool = False) -> Any:
    """Stored as the enum's *values* in a VARCHAR with a CHECK, so raw SQL and psql read naturally."""
    return Field(
        default=default,
        sa_column=Column(
            SAEnum(
                enum_cls,
                native_enum=False,
                values_callable=lambda members: [m.value for m in members],
                length=20,
                validate_strings=True,
                name=f"ck_{enum_cls.__name__.lower()}",
            ),
            nullable=False,
            index=index,
        ),
    )
