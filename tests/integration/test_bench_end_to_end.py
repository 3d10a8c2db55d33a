"""The bench, end to end at a tiny size, as a user runs it: its own Temporal dev server, worker, API and
sandbox gateway; every figure the issue names written to the JSON file, and the table printed."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

NAMED_FIGURES = (
    "baseline_periods_per_s",
    "engine_periods_per_s",
    "ratio",
    "signup_p50_ms",
    "signup_p95_ms",
    "signup_p99_ms",
    "worker_peak_rss_mb",
    "history_events_per_period",
    "claims_per_s",
    "raw_updates_per_s",
    "claims_ratio",
    "mqtt_change_to_device_p50_ms",
    "mqtt_change_to_device_p99_ms",
    "mqtt_publishes_per_s",
    "mqtt_ratio",
    "events_ratio",
    "delivery_p99_s",
    "codec_ratio",
    "burst_ratio",
    "api_claims_ratio",
    "renewal_cpu_ratio",
    "signup_cpu_in_bare_periods",
)
REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--subscriptions=4",
    "--periods=2",
    "--signup-samples=2",
    "--open-subscriptions=3",
    "--claims=12",
    "--claim-concurrency=4",
    "--rounds=1",
    "--warmup-subscriptions=0",
    "--burst=8",
    "--signup-rate-samples=4",
]


@pytest.mark.timeout(300)  # every phase, the burst's sticky-queue hold included
def test_a_tiny_bench_writes_every_named_figure(database_url_for_test: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TEMPORAL_ADDRESS"}
    env["DATABASE_URL"] = database_url_for_test
    figures_path = tmp_path / "bench.json"

    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "bench", *TINY, f"--json={figures_path}"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(figures_path.read_text())
    for name in NAMED_FIGURES:
        assert math.isfinite(figures[name]) and figures[name] > 0, (name, figures.get(name))
    assert figures["oversell"] == 0
    # Two periods each, the first the signup's: a signup's events and one renewal's, over two.
    assert 5 <= figures["history_events_per_period"] <= 12
    assert "iot-billing bench" in done.stdout and "ratio" in done.stdout
