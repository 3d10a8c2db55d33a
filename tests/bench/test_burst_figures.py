"""A burst's figures from when it began and when each due period ran."""

from __future__ import annotations

import pytest

from bench.burst import Drain


def test_drain_time_rate_and_lateness() -> None:
    drain = Drain(started=100.0, done=[101.0, 102.0, 104.0, 105.0], cpu_s={"worker": 2.0, "idle": 0.0})
    figures = drain.figures("b")
    assert figures["b_drain_s"] == 5.0
    assert figures["b_periods_per_s"] == pytest.approx(4 / 5)
    assert figures["b_lateness_p50_s"] in (2.0, 4.0)  # the middle of an even count, either neighbour
    assert figures["b_lateness_p99_s"] == 5.0
    assert figures["b_cpu_ms_per_period.worker"] == 500.0
    assert "b_cpu_ms_per_period.idle" not in figures  # a component that did nothing is left out


def test_a_period_run_before_the_burst_began_is_not_late() -> None:
    drain = Drain(started=100.0, done=[99.5, 102.0], cpu_s={})
    assert drain.done_after == [0.0, 2.0]
