"""What Temporal says about a workflow across all its runs (continue-as-new included): how often charges were
retried, which workers did the work, and which worker is in the middle of a workflow task right now."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from models.names import SETTLE_PERIOD, SIGN_AND_SETTLE_FIRST
from tests.support.temporal import SubscriptionHandle


async def runs(client: Client, handle: SubscriptionHandle) -> AsyncIterator[tuple[str, list[HistoryEvent]]]:
    """Each run of the workflow, first to current, following continue-as-new: (run id, its events)."""
    run_id = handle.first_execution_run_id
    while run_id:
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        yield run_id, list(history.events)
        last = history.events[-1]
        run_id = None
        if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id


async def run_ids(client: Client, handle: SubscriptionHandle) -> list[str]:
    return [run_id async for run_id, _ in runs(client, handle)]


async def every_event(client: Client, handle: SubscriptionHandle) -> AsyncIterator[HistoryEvent]:
    async for _, events in runs(client, handle):
        for event in events:
            yield event


LOCAL_ACTIVITY_MARKER = "core_local_activity"


def local_activity_data(event: HistoryEvent) -> dict[str, Any] | None:
    """What a local activity's marker records (its type, the attempt its result came from); None for
    other events."""
    if event.event_type != EventType.EVENT_TYPE_MARKER_RECORDED:
        return None
    marker = event.marker_recorded_event_attributes
    if marker.marker_name != LOCAL_ACTIVITY_MARKER:
        return None
    data: dict[str, Any] = json.loads(marker.details["data"].payloads[0].data)
    return data


def local_activity_result(event: HistoryEvent) -> dict[str, Any] | None:
    """The result a local activity's marker records (as JSON); None for other events, or a failed one."""
    if local_activity_data(event) is None:
        return None
    result = event.marker_recorded_event_attributes.details.get("result")
    if result is None or not result.payloads:
        return None
    value: dict[str, Any] = json.loads(result.payloads[0].data)
    return value


def local_charge_result(event: HistoryEvent) -> dict[str, Any] | None:
    """The charge outcome a local charge's marker records; None for other events, a failed one, or signing
    whose first charge was left to a step of its own."""
    data = local_activity_data(event)
    if data is None or data["activity_type"] not in (SETTLE_PERIOD, SIGN_AND_SETTLE_FIRST):
        return None
    result = local_activity_result(event)
    if result is not None and data["activity_type"] == SIGN_AND_SETTLE_FIRST:
        first: dict[str, Any] | None = result.get("first")
        return first
    return result


@dataclass(frozen=True)
class WaitAfterCharge:
    """A timer started in the workflow task that paid a period with a local charge: the wait for the next."""

    duration: timedelta
    task_began: datetime  # what `workflow.now()` said throughout that task
    answered_at: datetime | None  # by the worker's clock; outcomes recorded before v5 have none
    due: datetime  # the end of the period just charged: when the next one falls due


def waits_after_charges(history: Sequence[HistoryEvent]) -> list[WaitAfterCharge]:
    found = []
    task_began: datetime | None = None
    charged: dict[str, Any] | None = None
    for event in history:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            task_began, charged = event.event_time.ToDatetime(tzinfo=UTC), None
        outcome = local_charge_result(event)
        if outcome is not None:
            # A decline's wait is the retry delay, not a due time.
            charged = outcome if outcome["kind"] == "paid" else None
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED and charged is not None:
            assert task_began is not None
            answered = charged.get("answered_at")
            found.append(
                WaitAfterCharge(
                    duration=event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta(),
                    task_began=task_began,
                    answered_at=datetime.fromisoformat(answered) if answered else None,
                    due=datetime.fromisoformat(charged["period_end"]),
                )
            )
            charged = None
    return found


def _local_activity_attempt(event: HistoryEvent) -> int:
    data = local_activity_data(event)
    return 0 if data is None else int(data["attempt"])


async def retried_charges(client: Client, handle: SubscriptionHandle) -> int:
    """Activities and local activities that succeeded only after a failed attempt (an activity's started
    event records its last attempt; a local activity's marker does)."""
    retried = [
        event
        async for event in every_event(client, handle)
        if (
            event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
            and event.activity_task_started_event_attributes.attempt > 1
        )
        or _local_activity_attempt(event) > 1
    ]
    return len(retried)


async def timed_out_tasks(client: Client, handle: SubscriptionHandle) -> int:
    """Workflow tasks that timed out: a worker died holding one (with any local charge it was running)."""
    return len(
        [
            event
            async for event in every_event(client, handle)
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT
        ]
    )


async def worker_identities(client: Client, handle: SubscriptionHandle) -> set[str]:
    """The identities (`pid@host`) of the workers that ran this workflow's tasks and activities."""
    found: set[str] = set()
    async for event in every_event(client, handle):
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            found.add(event.activity_task_started_event_attributes.identity)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            found.add(event.workflow_task_started_event_attributes.identity)
    return found


async def task_running_on(client: Client, handle: SubscriptionHandle, identity: str) -> bool:
    """Whether the workflow's current run has a workflow task under way on the worker with that identity."""
    history = await client.get_workflow_handle(handle.id).fetch_history()
    last = history.events[-1]
    return (
        last.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
        and last.workflow_task_started_event_attributes.identity == identity
    )
