"""Subscriptions by status, for Prometheus: counted in PostgreSQL when scraped, at most once per
`MAX_AGE_SECONDS`, so the figure is right after any restart and whichever worker is scraped, and the
count (a scan of the contracts' status index) stays rare however often Prometheus scrapes."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine

from infra.db_gauge import CachedQueryGauge
from infra.metrics import PREFIX
from models.enums import SubscriptionStatus

MAX_AGE_SECONDS = 30.0
_BY_STATUS = "SELECT status, count(*) FROM contracts GROUP BY status"


def subscriptions_gauge(
    engine: Engine, *, max_age_seconds: float = MAX_AGE_SECONDS, clock: Callable[[], float] = time.monotonic
) -> CachedQueryGauge:
    return CachedQueryGauge(
        name=f"{PREFIX}_subscriptions",
        documentation="Subscriptions (contracts) by status, read from the database.",
        labels=["status"],
        engine=engine,
        sql=_BY_STATUS,
        max_age_seconds=max_age_seconds,
        always=[(status.value,) for status in SubscriptionStatus],
        clock=clock,
    )
