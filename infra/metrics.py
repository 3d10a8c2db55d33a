"""Our business metrics (prometheus_client, the process's default registry) and the `/metrics` endpoint
each process serves. docs/operations.md lists every metric with its labels and says why prometheus_client
rather than the Temporal SDK's meter.

Label values come from small fixed sets (outcomes, statuses, resource and event types, route templates):
never a user, device or contract id, which would make one series per customer."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from sqlalchemy import event
from sqlmodel import Session

PREFIX = "iot_billing"


class ChargeOutcome(StrEnum):
    PAID = "paid"
    SOFT_DECLINE = "soft_decline"
    HARD_DECLINE = "hard_decline"
    # The gateway timed out, failed or answered something unreadable: the charge may or may not exist.
    UNKNOWN = "unknown"


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"
    RETRYING = "retrying"
    GAVE_UP = "gave_up"


CHARGES = Counter(
    f"{PREFIX}_charges",
    "Charge attempts sent to the payment gateway, by outcome and the product's resource type.",
    ["outcome", "resource_type"],
)
CHARGE_SECONDS = Histogram(
    f"{PREFIX}_charge_seconds",
    "Time of one gateway charge call, by outcome.",
    ["outcome"],
)
DUNNING_ATTEMPTS = Counter(
    f"{PREFIX}_dunning_attempts",
    "Charge attempts after a decline (attempt 2 onwards of a period), by outcome.",
    ["outcome", "resource_type"],
)
ENTITLEMENTS_OPENED = Counter(
    f"{PREFIX}_entitlements_opened",
    "Device entitlements opened or extended by a paid period.",
    ["resource_type"],
)
ENTITLEMENTS_REVOKED = Counter(
    f"{PREFIX}_entitlements_revoked",
    "Device entitlements revoked, by reason.",
    ["resource_type", "reason"],
)
VOUCHER_CLAIMS = Counter(f"{PREFIX}_voucher_claims", "Vouchers claimed by users (new claims only).")
VOUCHER_REDEMPTIONS = Counter(
    f"{PREFIX}_voucher_redemptions", "Voucher claims redeemed by the first charge they paid towards."
)
VOUCHER_RELEASES = Counter(
    f"{PREFIX}_voucher_releases",
    "Voucher claims given back after a signup failed or a contract ended unused, by whether it had expired.",
    ["expired"],
)
WEBHOOK_DELIVERIES = Counter(
    f"{PREFIX}_webhook_deliveries",
    "Webhook delivery attempts, by outcome and event type.",
    ["outcome", "event_type"],
)
WEBHOOK_DELIVERY_SECONDS = Histogram(
    f"{PREFIX}_webhook_delivery_seconds",
    "Time of one webhook POST to a receiver, whatever its outcome.",
)
WEBHOOK_EVENT_TO_DELIVERY_SECONDS = Histogram(
    f"{PREFIX}_webhook_event_to_delivery_seconds",
    "From an event's commit to its successful delivery to one endpoint.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 86400),
)


def after_commit(session: Session, count: Callable[[], None]) -> None:
    """Count once the session's transaction commits: a change rolled back, and made again by the retry of
    its activity, is counted once."""
    event.listen(session, "after_commit", lambda _session: count(), once=True)


def serve_metrics(
    port: int | None, *, host: str, registry: CollectorRegistry = REGISTRY
) -> WSGIServer | None:
    """Serve `/metrics` on a thread of this process until it exits (or `shutdown()`); no port serves
    nothing. Port 0 asks the system for a free one (tests), found in the server's `server_port`."""
    if port is None:
        return None
    exposing_process()
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server


def exposing_process() -> None:
    """Leave out the `_created` series (each counter's and histogram's creation time): one more series per
    labelled child that dashboards never use."""
    disable_created_metrics()  # type: ignore[no-untyped-call]  # the library leaves it unannotated
