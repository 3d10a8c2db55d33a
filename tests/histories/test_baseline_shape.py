"""What the committed histories of today's workflow show about its cost: no patch marker (pre-release), the
signup in one local activity, renewals as local activities, charge times unindexed while active, and the
payment agreement released when a cancellation is recorded."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

HERE = Path(__file__).parent
HISTORIES = sorted(HERE.glob("unreleased-*.json"))


def events(name: str) -> list[dict[str, object]]:
    data = json.loads((HERE / name).read_text())
    found: list[dict[str, object]] = data["events"]
    return found


def _payload(encoded: str) -> object:
    return json.loads(base64.b64decode(encoded))


def steps(name: str) -> list[str]:
    """In history order: `local:<type>`, `activity:<type>`, `upsert:<keys>` and `marker:<name>`."""
    found: list[str] = []
    for e in events(name):
        kind = e["eventType"]
        if kind == "EVENT_TYPE_MARKER_RECORDED":
            marker = e["markerRecordedEventAttributes"]
            assert isinstance(marker, dict)
            if marker["markerName"] == "core_local_activity":
                data = _payload(marker["details"]["data"]["payloads"][0]["data"])
                assert isinstance(data, dict)
                found.append(f"local:{data['activity_type']}")
            else:
                found.append(f"marker:{marker['markerName']}")
        elif kind == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED":
            attributes = e["activityTaskScheduledEventAttributes"]
            assert isinstance(attributes, dict)
            found.append(f"activity:{attributes['activityType']['name']}")
        elif kind == "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES":
            attributes = e["upsertWorkflowSearchAttributesEventAttributes"]
            assert isinstance(attributes, dict)
            found.append("upsert:" + ",".join(sorted(attributes["searchAttributes"]["indexedFields"])))
    return found


def indexed_while_active(name: str) -> list[str]:
    """The NextChargeAt/PaidThrough values a history indexed while SubscriptionStatus said active."""
    status: object = None
    found: list[str] = []
    for e in events(name):
        if e["eventType"] != "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES":
            continue
        attributes = e["upsertWorkflowSearchAttributesEventAttributes"]
        assert isinstance(attributes, dict)
        fields = attributes["searchAttributes"]["indexedFields"]
        values = {k: _payload(v["data"]) if v.get("data") else None for k, v in fields.items()}
        status = values.get("SubscriptionStatus", status)
        if status == "active":
            found += [
                f"{k}={values[k]}" for k in ("NextChargeAt", "PaidThrough") if values.get(k) is not None
            ]
    return found


def test_histories_are_recorded_for_every_scenario() -> None:
    assert len(HISTORIES) == 5, "record them: see test_record_histories.py"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
def test_a_pre_release_history_records_no_patch(path: Path) -> None:
    assert not [s for s in steps(path.name) if s.startswith("marker:")]


@pytest.mark.parametrize(
    "name",
    [
        "unreleased-updates-signup-devices-cancel.first-run.json",
        "unreleased-soft-decline-dunning-exhausted.first-run.json",
        "unreleased-flaky-card-device-removed-continued-canceled.first-run.json",
    ],
)
def test_the_signup_is_one_local_activity_and_one_upsert(name: str) -> None:
    found = steps(name)
    assert found[0] == "local:sign_and_settle_first"
    assert found[1].startswith("upsert:")
    assert "local:sign_contract" not in found and "activity:sign_contract" not in found


def test_a_declined_first_charge_is_retried_as_local_charge_steps() -> None:
    found = [
        s for s in steps("unreleased-soft-decline-dunning-exhausted.first-run.json") if s.startswith("local")
    ]
    assert found[0] == "local:sign_and_settle_first"
    assert found[1:] == ["local:settle_period"] * (len(found) - 1) and len(found) >= 3


@pytest.mark.parametrize("run", ["first-run", "last-run"])
def test_renewals_are_local_and_charge_times_stay_unindexed_while_active(run: str) -> None:
    name = f"unreleased-flaky-card-device-removed-continued-canceled.{run}.json"
    found = steps(name)
    assert "activity:settle_period" not in found
    assert found.count("local:settle_period") >= 3
    assert indexed_while_active(name) == []


def test_a_continued_run_neither_signs_again_nor_indexes_what_it_carried() -> None:
    found = steps("unreleased-flaky-card-device-removed-continued-canceled.last-run.json")
    assert not [s for s in found if "sign" in s]
    upserts = [s for s in found if s.startswith("upsert:")]
    assert all("UserId" not in s and "ProductId" not in s for s in upserts)


def test_a_cancel_at_period_end_is_recorded_then_releases_the_agreement() -> None:
    found = steps("unreleased-updates-signup-devices-cancel.first-run.json")
    recorded, released = found.index("activity:record_transition"), found.index("activity:release_agreement")
    assert recorded < released < found.index("activity:finish_contract")
