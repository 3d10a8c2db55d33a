"""What the dispatcher reports to Prometheus: each delivery attempt's outcome and times, and the outbox lag
read from the database when scraped."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from dispatcher.queue import Claim, Outcome
from infra.db_gauge import CachedQueryGauge
from infra.metrics import (
    PREFIX,
    WEBHOOK_DELIVERIES,
    WEBHOOK_DELIVERY_SECONDS,
    WEBHOOK_EVENT_TO_DELIVERY_SECONDS,
    DeliveryOutcome,
)

# A scrape asks the database at most this often; the lag moves in seconds, not milliseconds.
LAG_MAX_AGE_SECONDS = 5.0

# `planning`: the oldest event whose deliveries are not planned yet; `delivery`: the oldest event with a
# delivery still pending to an enabled endpoint (a receiver failing for hours shows here).
_LAG = """
SELECT 'planning', extract(epoch FROM now() - min(created_at)) FROM events WHERE dispatched_at IS NULL
UNION ALL
SELECT 'delivery', extract(epoch FROM now() - min(e.created_at))
FROM webhook_deliveries d
JOIN events e ON e.id = d.event_id
JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.enabled
WHERE d.status = 'pending'
"""


def outbox_lag_gauge(engine: Engine) -> CachedQueryGauge:
    return CachedQueryGauge(
        name=f"{PREFIX}_outbox_lag_seconds",
        documentation="Age of the oldest event not yet planned (stage=planning) or not yet delivered "
        "to an enabled endpoint (stage=delivery); 0 when there is none.",
        labels=["stage"],
        engine=engine,
        sql=_LAG,
        max_age_seconds=LAG_MAX_AGE_SECONDS,
    )


def count_delivery(claim: Claim, outcome: Outcome, *, retrying: bool) -> None:
    if outcome.delivered:
        result = DeliveryOutcome.DELIVERED
        lag = (datetime.now(UTC) - claim.envelope.created_at).total_seconds()
        WEBHOOK_EVENT_TO_DELIVERY_SECONDS.observe(max(lag, 0.0))
    else:
        result = DeliveryOutcome.RETRYING if retrying else DeliveryOutcome.GAVE_UP
    WEBHOOK_DELIVERIES.labels(outcome=result.value, event_type=claim.envelope.type).inc()
    WEBHOOK_DELIVERY_SECONDS.observe(outcome.latency_ms / 1000)
