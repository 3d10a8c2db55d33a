"""What Temporal says about a workflow across all its runs (continue-as-new included): how often activities
were retried, which workers did the work, and which worker runs an activity right now."""

from __future__ import annotations

from collections.abc import AsyncIterator

from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

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


async def retried_activities(client: Client, handle: SubscriptionHandle) -> int:
    """Activity executions that succeeded only after a failed attempt (the started event records the last)."""
    retried = [
        event
        async for event in every_event(client, handle)
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and event.activity_task_started_event_attributes.attempt > 1
    ]
    return len(retried)


async def worker_identities(client: Client, handle: SubscriptionHandle) -> set[str]:
    """The identities (`pid@host`) of the workers that ran this workflow's tasks and activities."""
    found: set[str] = set()
    async for event in every_event(client, handle):
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            found.add(event.activity_task_started_event_attributes.identity)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            found.add(event.workflow_task_started_event_attributes.identity)
    return found


async def activity_running_on(handle: SubscriptionHandle, identity: str, activity_type: str) -> bool:
    """Whether an activity of this type is executing for the workflow on that worker right now."""
    pending = (await handle.describe()).raw_description.pending_activities
    return any(
        activity.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        and activity.activity_type.name == activity_type
        and activity.last_worker_identity == identity
        for activity in pending
    )
