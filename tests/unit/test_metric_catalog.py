"""docs/operations.md lists every metric we export, the Grafana dashboard asks only for metrics that exist,
and no label can carry a customer's id."""

from __future__ import annotations

import json
import re

from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric
from sqlalchemy import create_engine

import infra.metrics
import infra.request_metrics
from dispatcher.metrics import outbox_lag_gauge
from tests.conftest import repo_root
from workers.subscription_gauge import subscriptions_gauge

ID_LABELS = {"user_id", "user", "device_id", "device", "contract_id", "contract", "subscription_id", "id"}
_SUFFIXES = {"counter": "_total", "histogram": ""}


def _ours() -> list[Metric]:
    assert infra.metrics.CHARGES and infra.request_metrics.HTTP_REQUESTS  # registered on import
    # Never connected: describing a gauge asks nothing of the database.
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    gauges = [
        *subscriptions_gauge(engine).describe(),
        *outbox_lag_gauge(engine).describe(),
    ]
    registered = [family for family in REGISTRY.collect() if family.name.startswith("iot_billing_")]
    return registered + gauges


def _documented() -> str:
    return (repo_root() / "docs" / "operations.md").read_text()


def test_every_metric_we_export_is_documented_with_its_labels() -> None:
    docs = _documented()
    families = _ours()
    assert len(families) >= 15
    for family in families:
        name = family.name + _SUFFIXES.get(family.type, "")
        [row] = [line for line in docs.splitlines() if line.startswith(f"| `{name}` |")]
        for label in _label_names(family):
            assert f"`{label}`" in row, f"{name}: label {label} not documented"


def test_no_label_can_carry_an_id() -> None:
    for family in _ours():
        assert not set(_label_names(family)) & ID_LABELS, family.name


def test_the_dashboard_asks_only_for_documented_metrics() -> None:
    dashboard = json.loads((repo_root() / "deploy" / "grafana" / "iot-billing.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    asked = {name for expr in expressions for name in re.findall(r"\b((?:iot_billing|temporal)_\w+)", expr)}
    docs = _documented()
    for name in asked:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert f"`{base}`" in docs, f"{name} is on the dashboard but not in docs/operations.md"


def _label_names(family: Metric) -> list[str]:
    """A registered metric's label names are on its collector; a described gauge family carries its own."""
    collector = REGISTRY._names_to_collectors.get(family.name)
    return list(getattr(collector, "_labelnames", None) or getattr(family, "_labelnames", ()))
