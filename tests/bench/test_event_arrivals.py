"""Delivery is at least once: an event's latency counts from its first arrival."""

from __future__ import annotations

from bench.events import first_arrivals


def test_the_first_arrival_of_each_event_counts() -> None:
    notes = [("evt_a", 1.0), ("evt_b", 2.0), ("evt_a", 3.0)]
    assert first_arrivals(notes) == {"evt_a": 1.0, "evt_b": 2.0}
