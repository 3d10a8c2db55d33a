"""Read a Prometheus exposition into samples, and compare two readings."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, frozenset[tuple[str, str]]]


def samples(exposition: str) -> dict[Key, float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(reading: dict[Key, float], name: str, **labels: str) -> float:
    return reading.get((name, frozenset(labels.items())), 0.0)


def moved(before: dict[Key, float], after: dict[Key, float], name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def label_values(reading: dict[Key, float]) -> Iterator[str]:
    for _name, labels in reading:
        for _label, label_value in labels:
            yield label_value
