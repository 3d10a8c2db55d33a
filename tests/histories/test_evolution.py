"""Safe evolution of long-lived workflows: histories recorded before a patched change still replay, and
they really exercise the changed path (so the replay proves something)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from workflows.subscription import PATCH_RELEASE_AGREEMENT_ON_CANCEL

HERE = Path(__file__).parent


def history(name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((HERE / name).read_text())
    return data


def markers(data: dict[str, object]) -> set[str]:
    """The patch ids a history recorded (core_patch markers carry {"id": ...} as base64 JSON)."""
    events = data["events"]
    assert isinstance(events, list)
    found: set[str] = set()
    for e in events:
        if e["eventType"] != "EVENT_TYPE_MARKER_RECORDED":
            continue
        payload = e["markerRecordedEventAttributes"]["details"]["patch-data"]["payloads"][0]["data"]
        found.add(json.loads(base64.b64decode(payload))["id"])
    return found


def activity_types(data: dict[str, object]) -> list[str]:
    events = data["events"]
    assert isinstance(events, list)
    return [
        e["activityTaskScheduledEventAttributes"]["activityType"]["name"]
        for e in events
        if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"
    ]


@pytest.mark.parametrize(
    "name",
    [
        "v1-updates-signup-devices-cancel.first-run.json",
        "v1-flaky-card-device-removed-continued-canceled.last-run.json",
    ],
)
def test_v1_histories_cancel_at_period_end_without_the_patch(name: str) -> None:
    data = history(name)
    kinds = activity_types(data)
    assert "record_transition" in kinds  # the cancel at period end that the patch changed
    assert "release_agreement" not in kinds
    assert markers(data) == set()


def test_v2_history_records_the_patch_and_releases_the_agreement_on_cancel() -> None:
    data = history("v2-updates-signup-devices-cancel.first-run.json")
    assert "release_agreement" in activity_types(data)
    assert markers(data) == {PATCH_RELEASE_AGREEMENT_ON_CANCEL}
