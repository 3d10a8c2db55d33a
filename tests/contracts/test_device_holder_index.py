"""Finding the running subscription that already holds a device reads the device-ids index, not every
contract: the question is asked twice per signup, over every subscription in service."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg

from contracts.devices import HOLDER_OF_RESOURCE, NON_FINAL

CONTRACTS = 5_000
_PRODUCT = """
INSERT INTO products (id, name, resource_type, billing_cycle, unit_price_minor, currency, price_version,
                      status, max_devices, dunning_delays_seconds, dunning_max_attempts)
VALUES (%s, 'video', 'video', 'P1M', 100, 'CNY', 1, 'active', 5, '{60}', 3)
"""
_CONTRACTS = """
INSERT INTO contracts (id, user_id, product_id, resource_type, unit_price_minor, currency, price_version,
                       billing_cycle, timezone, device_ids, agreement_id, agreement_status,
                       agreement_cap_minor, status, anchor_at, current_period)
SELECT gen_random_uuid(), 'u' || n, %s, 'video', 100, 'CNY', 1, 'P1M', 'UTC',
       ARRAY['cam-' || n, 'door-' || n], 'agr-' || n, 'active', 1000, 'active', now(), 0
FROM generate_series(1, %s) AS n
"""


def _plan(conn: psycopg.Connection[Any], devices: list[str]) -> dict[str, Any]:
    params = {"running": NON_FINAL, "resource_type": "video", "device_ids": devices, "exclude": None}
    row = conn.execute(f"EXPLAIN (FORMAT JSON) {HOLDER_OF_RESOURCE}", params).fetchone()
    assert row is not None
    plan: dict[str, Any] = row[0][0]["Plan"]
    return plan


def _relations_scanned(plan: dict[str, Any]) -> list[tuple[str, str]]:
    found = [(plan["Node Type"], plan.get("Index Name") or plan.get("Relation Name", ""))]
    for child in plan.get("Plans", []):
        found += _relations_scanned(child)
    return found


def test_the_holder_of_a_device_is_found_through_the_device_ids_index(database_url_for_test: str) -> None:
    with psycopg.connect(database_url_for_test, autocommit=True) as conn:
        product_id = uuid.uuid4()
        conn.execute(_PRODUCT, (product_id,))
        conn.execute(_CONTRACTS, (product_id, CONTRACTS))
        conn.execute("ANALYZE contracts")

        scanned = _relations_scanned(_plan(conn, ["cam-4321", "cam-new"]))
        holder = conn.execute(
            HOLDER_OF_RESOURCE,
            {"running": NON_FINAL, "resource_type": "video", "device_ids": ["cam-4321"], "exclude": None},
        ).fetchone()

    assert ("Seq Scan", "contracts") not in scanned, json.dumps(scanned)
    assert any(name == "ix_contracts_device_ids" for _, name in scanned), json.dumps(scanned)
    assert holder is not None and holder[1] == ["cam-4321", "door-4321"]
