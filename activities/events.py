"""Append to the contract event log exactly once per dedup key."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb
from sqlmodel import Session

from infra.db import driver_connection

_APPEND = """
INSERT INTO contract_events (contract_id, dedup_key, kind, period, detail)
VALUES (%(contract_id)s, %(dedup_key)s, %(kind)s, %(period)s, %(detail)s)
ON CONFLICT (dedup_key) DO NOTHING
"""


def append_event(
    session: Session,
    *,
    contract_id: uuid.UUID,
    dedup_key: str,
    kind: str,
    period: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    # Plain SQL on the session's connection: every charge appends one, on the hot path.
    driver_connection(session).execute(
        _APPEND,
        {
            "contract_id": contract_id,
            "dedup_key": dedup_key,
            "kind": kind,
            "period": period,
            "detail": Jsonb(detail or {}),
        },
    )
