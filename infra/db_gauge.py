"""A Prometheus gauge read from PostgreSQL when scraped, reusing its last reading for a while, so however
often (and however many) Prometheus servers scrape, the database answers at most once per `max_age`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

log = structlog.get_logger(__name__)

Reading = Mapping[tuple[str, ...], float]


class CachedQueryGauge(Collector):
    """One gauge family whose samples, label values -> value, come from `sql` (rows of the label values
    then the value). `always` lists label values reported as 0 when the query returns no row for them."""

    def __init__(
        self,
        *,
        name: str,
        documentation: str,
        labels: Iterable[str],
        engine: Engine,
        sql: str,
        max_age_seconds: float,
        always: Iterable[tuple[str, ...]] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = list(labels)
        self._engine = engine
        self._sql = text(sql)
        self._max_age = max_age_seconds
        self._always = list(always)
        self._clock = clock
        self._lock = threading.Lock()
        self._reading: Reading | None = None
        self._read_at = 0.0

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Without this, registering would call `collect` and query the database.
        yield self._family()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = self._family()
        for label_values, value in sorted(self.reading().items()):
            family.add_metric(list(label_values), value)
        yield family

    def reading(self) -> Reading:
        with self._lock:
            if self._reading is None or self._clock() - self._read_at >= self._max_age:
                try:
                    self._reading = self._query()
                except SQLAlchemyError as error:
                    # A scrape during a database outage shows the last reading (none yet: no samples).
                    log.warning("gauge not refreshed", gauge=self.name, error=str(error))
                    return self._reading or {}
                self._read_at = self._clock()
            return self._reading

    def _query(self) -> Reading:
        reading: dict[tuple[str, ...], float] = dict.fromkeys(self._always, 0.0)
        with self._engine.connect() as connection:
            for row in connection.execute(self._sql):
                *label_values, value = row
                reading[tuple(str(v) for v in label_values)] = float(value or 0)
        return reading

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
