"""The sandbox's ledger tables, in their own PostgreSQL schema so they never mix with the engine's."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    text,
)
from sqlalchemy.schema import CreateSchema

SCHEMA = "sandbox"

metadata = MetaData(schema=SCHEMA)

# One signed recurring-payment agreement; `reference` (the caller's contract id) makes signing idempotent.
agreements = Table(
    "agreements",
    metadata,
    Column("agreement_id", String(64), primary_key=True),
    Column("reference", String(200), nullable=False, unique=True),
    Column("user_id", String(200), nullable=False),
    Column("token", String(100), nullable=False),
    Column("status", String(16), nullable=False),
    Column("cap_amount_minor", BigInteger, nullable=False),
    Column("cap_currency", String(3), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The gateway's ledger: one row per idempotency key, whatever the outcome.
charges = Table(
    "charges",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=True),
    Column("charge_id", String(64), nullable=False, unique=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("agreement_id", String(64), ForeignKey(agreements.c.agreement_id), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("decline_code", String(64)),
    Column("decline_kind", String(16)),
    Column("contract_id", String(200), nullable=False),
    Column("period", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_charges_agreement_period", "agreement_id", "period"),
    Index("ix_charges_contract_period", "contract_id", "period"),
)


def ensure_schema(engine: Engine) -> None:
    """Create the schema and tables if missing.

    Acceptable only because this is a sandbox: production tables go through Alembic migrations. The
    advisory lock lets several sandboxes start against one database without racing on the catalog."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('gateway.sandbox.tables'))"))
        conn.execute(CreateSchema(SCHEMA, if_not_exists=True))
        metadata.create_all(conn)
