"""Readers of the gateway's ledger: its HTTP listing (`GET /v1/charges`) or, for the sandbox, its tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import httpx
from pydantic import TypeAdapter
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from gateway.sandbox.ledger import SandboxLedger
from gateway.sandbox.schemas import LedgerCharge
from infra.settings import sqlalchemy_url
from reconcile.books import GatewayCharge

_LEDGER_PAGE = TypeAdapter(list[LedgerCharge])


class LedgerSource(Protocol):
    def charges(self, contract_ids: Sequence[str] = ()) -> list[GatewayCharge]:
        """Every charge the gateway recorded, whatever its outcome; only these contracts' when given."""
        ...


def gateway_charge(charge: LedgerCharge) -> GatewayCharge:
    return GatewayCharge(
        charge_id=charge.charge_id,
        idempotency_key=charge.idempotency_key,
        contract_id=charge.reference.contract_id,
        period=charge.reference.period,
        attempt=charge.reference.attempt,
        status=charge.status,
        amount_minor=charge.amount.amount_minor,
        currency=charge.amount.currency,
    )


class HttpLedger:
    def __init__(
        self, base_url: str, *, timeout_seconds: float = 30.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._base_url = base_url
        self._timeout = timeout_seconds
        self._transport = transport

    def charges(self, contract_ids: Sequence[str] = ()) -> list[GatewayCharge]:
        queries: list[dict[str, str]] = [{"contract_id": c} for c in contract_ids] or [{}]
        found: list[GatewayCharge] = []
        with httpx.Client(
            base_url=self._base_url, timeout=self._timeout, transport=self._transport
        ) as client:
            for query in queries:
                response = client.get("/v1/charges", params=query)
                response.raise_for_status()
                found += [gateway_charge(c) for c in _LEDGER_PAGE.validate_json(response.content)]
        return found


class DatabaseLedger:
    """The sandbox gateway's own tables (schema `sandbox`), read with the sandbox's ledger code."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url

    def charges(self, contract_ids: Sequence[str] = ()) -> list[GatewayCharge]:
        engine = create_engine(sqlalchemy_url(self._database_url), poolclass=NullPool)
        try:
            ledger = SandboxLedger(engine)
            if not contract_ids:
                return [gateway_charge(c) for c in ledger.list_charges()]
            return [gateway_charge(c) for cid in contract_ids for c in ledger.list_charges(contract_id=cid)]
        finally:
            engine.dispose()
