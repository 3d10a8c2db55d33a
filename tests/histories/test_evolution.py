"""Safe evolution of long-lived workflows: histories recorded before a patched change still replay, and
they really exercise the changed path (so the replay proves something)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from tests.reliability.history import waits_after_charges
from workflows.subscription import (
    PATCH_LEAN_RENEWALS,
    PATCH_LEAN_SIGNUP,
    PATCH_LOCAL_SIGNUP,
    PATCH_RELEASE_AGREEMENT_ON_CANCEL,
    PATCH_SIGNUP_IN_ONE_STEP,
    PATCH_WAIT_FROM_ANSWER,
)

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
        marker = e["markerRecordedEventAttributes"]
        if marker["markerName"] != "core_patch":
            continue
        payload = marker["details"]["patch-data"]["payloads"][0]["data"]
        found.add(json.loads(base64.b64decode(payload))["id"])
    return found


def local_activity_types(data: dict[str, object]) -> list[str]:
    """Local activities leave a core_local_activity marker whose `data` names the activity type."""
    return [step for step in local_activities_and_upserts(data) if isinstance(step, str)]


def charge_times_indexed_while_active(data: dict[str, object]) -> list[str]:
    """The NextChargeAt/PaidThrough values a history indexed while SubscriptionStatus said active."""
    events = data["events"]
    assert isinstance(events, list)
    status: object = None
    found: list[str] = []
    for e in events:
        if e["eventType"] != "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES":
            continue
        fields = e["upsertWorkflowSearchAttributesEventAttributes"]["searchAttributes"]["indexedFields"]
        values = {
            k: json.loads(base64.b64decode(v["data"])) if v.get("data") else None for k, v in fields.items()
        }
        status = values.get("SubscriptionStatus", status)
        if status == "active":
            found += [
                f"{k}={values[k]}" for k in ("NextChargeAt", "PaidThrough") if values.get(k) is not None
            ]
    return found


def local_activities_and_upserts(data: dict[str, object]) -> list[str | set[str]]:
    """In history order: each local activity's type (from its core_local_activity marker) and each search
    attribute upsert's keys."""
    events = data["events"]
    assert isinstance(events, list)
    found: list[str | set[str]] = []
    for e in events:
        if e["eventType"] == "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES":
            found.append(
                set(e["upsertWorkflowSearchAttributesEventAttributes"]["searchAttributes"]["indexedFields"])
            )
        elif e.get("markerRecordedEventAttributes", {}).get("markerName") == "core_local_activity":
            payload = e["markerRecordedEventAttributes"]["details"]["data"]["payloads"][0]["data"]
            found.append(json.loads(base64.b64decode(payload))["activity_type"])
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


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_histories_before_v3_sign_and_charge_the_first_period_as_activities(version: str) -> None:
    data = history(f"{version}-updates-signup-devices-cancel.first-run.json")
    kinds = activity_types(data)
    assert kinds[:2] == ["sign_contract", "settle_period"]  # the path the v3 patch changed
    assert local_activity_types(data) == []
    assert PATCH_LOCAL_SIGNUP not in markers(data)


def test_v3_history_signs_and_charges_the_first_period_locally_and_renews_as_activities() -> None:
    data = history("v3-updates-signup-devices-cancel.first-run.json")
    assert local_activity_types(data) == ["sign_contract", "settle_period"]
    assert "sign_contract" not in activity_types(data)
    assert markers(data) == {PATCH_RELEASE_AGREEMENT_ON_CANCEL, PATCH_LOCAL_SIGNUP}
    renewing = history("v3-flaky-card-device-removed-continued-canceled.first-run.json")
    assert local_activity_types(renewing)[0] == "sign_contract"
    assert "settle_period" in activity_types(renewing)  # renewals stay ordinary activities


def test_v3_first_charge_declined_then_retried_stays_local() -> None:
    data = history("v3-soft-decline-dunning-exhausted.first-run.json")
    kinds = local_activity_types(data)
    assert kinds[0] == "sign_contract"
    assert kinds.count("settle_period") >= 2  # the first period's dunning attempts, each a local activity


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_histories_before_v4_renew_as_activities_and_index_charge_times_while_active(version: str) -> None:
    data = history(f"{version}-flaky-card-device-removed-continued-canceled.first-run.json")
    assert activity_types(data).count("settle_period") >= 2  # the renewals the v4 patch made local
    assert charge_times_indexed_while_active(data)  # and the indexing it dropped
    assert PATCH_LEAN_RENEWALS not in markers(data)


@pytest.mark.parametrize("run", ["first-run", "last-run"])
def test_v4_history_renews_locally_and_leaves_charge_times_unindexed_while_active(run: str) -> None:
    data = history(f"v4-flaky-card-device-removed-continued-canceled.{run}.json")
    assert PATCH_LEAN_RENEWALS in markers(data)  # each run decides for itself
    assert "settle_period" not in activity_types(data)
    assert local_activity_types(data).count("settle_period") >= 3
    assert charge_times_indexed_while_active(data) == []


@pytest.mark.parametrize("version", ["v3", "v4"])
def test_histories_before_v5_charge_locally_with_no_answer_time_to_wait_from(version: str) -> None:
    # Their outcomes carry no answer time, so the new code replays their waits exactly as recorded.
    name = f"{version}-flaky-card-device-removed-continued-canceled.first-run.json"
    assert PATCH_WAIT_FROM_ANSWER not in markers(history(name))
    waits = waits_after_charges(WorkflowHistory.from_json("recorded", (HERE / name).read_text()).events)
    assert waits and all(w.answered_at is None for w in waits)


@pytest.mark.parametrize("run", ["first-run", "last-run"])
def test_v5_history_records_when_each_charge_was_answered(run: str) -> None:
    name = f"v5-flaky-card-device-removed-continued-canceled.{run}.json"
    assert PATCH_WAIT_FROM_ANSWER in markers(history(name))  # each run decides for itself
    waits = waits_after_charges(WorkflowHistory.from_json("recorded", (HERE / name).read_text()).events)
    assert waits and all(w.answered_at is not None for w in waits)


@pytest.mark.parametrize("version", ["v3", "v4", "v5"])
def test_histories_before_v6_ask_for_each_patch_and_index_after_signing(version: str) -> None:
    data = history(f"{version}-flaky-card-device-removed-continued-canceled.first-run.json")
    found = markers(data)
    assert PATCH_LEAN_SIGNUP not in found
    assert PATCH_LOCAL_SIGNUP in found
    steps = local_activities_and_upserts(data)
    # An upsert between signing and the first charge: the one the v6 patch folds into the charge's.
    assert steps.index("sign_contract") + 1 < steps.index("settle_period")


@pytest.mark.parametrize(
    "name",
    [
        "v6-flaky-card-device-removed-continued-canceled.first-run.json",
        "v6-flaky-card-device-removed-continued-canceled.last-run.json",
        "v6-updates-signup-devices-cancel.first-run.json",
        "v6-soft-decline-dunning-exhausted.first-run.json",
    ],
)
def test_v6_runs_record_one_patch_for_every_change_before_it(name: str) -> None:
    data = history(name)
    assert markers(data) == {PATCH_LEAN_SIGNUP}
    assert "settle_period" not in activity_types(data)  # renewals and the first charge stay local


def test_v6_signup_indexes_once_after_its_first_charge_and_still_releases_on_cancel() -> None:
    data = history("v6-updates-signup-devices-cancel.first-run.json")
    steps = local_activities_and_upserts(data)
    signing, charging = steps.index("sign_contract"), steps.index("settle_period")
    assert charging == signing + 1  # nothing indexed in between
    assert "release_agreement" in activity_types(data)  # the v2 change, implied by the v6 patch


def test_v6_continued_run_does_not_index_again_what_it_carried_over() -> None:
    name = "v6-flaky-card-device-removed-continued-canceled.last-run.json"
    data = history(name)
    indexed = [keys for keys in local_activities_and_upserts(data) if isinstance(keys, set)]
    assert indexed[0] == {"TemporalChangeVersion"}
    assert all(not keys & {"UserId", "ProductId"} for keys in indexed)
    waits = waits_after_charges(WorkflowHistory.from_json("recorded", (HERE / name).read_text()).events)
    assert waits and all(w.answered_at is not None for w in waits)  # the v5 change, implied too


@pytest.mark.parametrize(
    "name",
    [
        "v6-updates-signup-devices-cancel.first-run.json",
        "v6-soft-decline-dunning-exhausted.first-run.json",
        "v6-flaky-card-device-removed-continued-canceled.first-run.json",
    ],
)
def test_v6_signups_sign_and_charge_the_first_period_in_two_local_activities(name: str) -> None:
    data = history(name)
    assert local_activity_types(data)[:2] == ["sign_contract", "settle_period"]  # what the v7 patch joins
    assert PATCH_SIGNUP_IN_ONE_STEP not in markers(data)


@pytest.mark.parametrize(
    "name",
    [
        "v7-flaky-card-device-removed-continued-canceled.first-run.json",
        "v7-flaky-card-device-removed-continued-canceled.last-run.json",
        "v7-updates-signup-devices-cancel.first-run.json",
        "v7-soft-decline-dunning-exhausted.first-run.json",
        "v7-invalid-signup.first-run.json",
    ],
)
def test_v7_runs_record_one_patch_for_every_change_before_it(name: str) -> None:
    data = history(name)
    assert markers(data) == {PATCH_SIGNUP_IN_ONE_STEP}
    assert "settle_period" not in activity_types(data)  # the v4 change, implied
    assert "sign_contract" not in local_activity_types(data)


def test_v7_signup_signs_and_charges_in_one_local_activity_then_indexes_once() -> None:
    data = history("v7-updates-signup-devices-cancel.first-run.json")
    steps = local_activities_and_upserts(data)
    assert steps[:2] == [{"TemporalChangeVersion"}, "sign_and_settle_first"]
    assert isinstance(steps[2], set)  # the first charge's outcome, indexed: no charge step of its own
    assert "settle_period" not in local_activity_types(data)
    assert "release_agreement" in activity_types(data)  # the v2 change, implied


def test_v7_first_charge_declined_is_retried_as_a_local_step_of_its_own() -> None:
    kinds = local_activity_types(history("v7-soft-decline-dunning-exhausted.first-run.json"))
    assert kinds[0] == "sign_and_settle_first"
    assert kinds[1:] == ["settle_period"] * (len(kinds) - 1) and len(kinds) >= 3


def test_v7_continued_run_does_not_sign_again() -> None:
    data = history("v7-flaky-card-device-removed-continued-canceled.last-run.json")
    kinds = local_activity_types(data)
    assert kinds and set(kinds) == {"settle_period"}
