"""Append to the contract event log exactly once per dedup key."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from models.entitlement import ContractEvent


def append_event(
    session: Session,
    *,
    contract_id: uuid.UUID,
    dedup_key: str,
    kind: str,
    period: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    statement = (
        insert(ContractEvent)
        .values(contract_id=contract_id, dedup_key=dedup_key, kind=kind, period=period, detail=detail or {})
        .on_conflict_do_nothing(index_elements=["dedup_key"])
    )
    # Core statement on the connection: no ORM bulk-persistence machinery for rows we never load.
    session.connection().execute(statement)
