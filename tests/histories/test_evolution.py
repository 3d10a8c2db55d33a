"""The evolution procedure from 1.0.0 on (docs/evolution.md), shown on a test-only workflow pair: a change
made behind `workflow.patched` replays a history recorded before it; the same change made directly does not.

Before 1.0.0 the subscription workflow changes directly and its histories are re-recorded instead."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from infra.workflow_runner import sandboxed_runner

WORKFLOW_TYPE = "EvolutionExample"
PATCH = "notify-after-charge"


@activity.defn
async def charge(name: str) -> str:
    return f"charged {name}"


@activity.defn
async def notify(name: str) -> str:
    return f"notified {name}"


async def _step(name: str, arg: str) -> str:
    result: str = await workflow.execute_activity(name, arg, start_to_close_timeout=timedelta(seconds=10))
    return result


@workflow.defn(name=WORKFLOW_TYPE, sandboxed=False)
class Released:
    """What version 1.0.0 ran."""

    @workflow.run
    async def run(self, name: str) -> str:
        return await _step("charge", name)


@workflow.defn(name=WORKFLOW_TYPE, sandboxed=False)
class PatchedChange:
    """The change as made from 1.0.0 on: new runs notify, runs recorded before it replay as they ran."""

    @workflow.run
    async def run(self, name: str) -> str:
        charged = await _step("charge", name)
        if workflow.patched(PATCH):
            await _step("notify", name)
        return charged


@workflow.defn(name=WORKFLOW_TYPE, sandboxed=False)
class DirectChange:
    """The same change made directly, as is right only before 1.0.0."""

    @workflow.run
    async def run(self, name: str) -> str:
        charged = await _step("charge", name)
        await _step("notify", name)
        return charged


async def _record(env: WorkflowEnvironment, workflow_class: type, task_queue: str) -> WorkflowHistory:
    async with Worker(
        env.client, task_queue=task_queue, workflows=[workflow_class], activities=[charge, notify]
    ):
        handle = await env.client.start_workflow(
            WORKFLOW_TYPE, "camera-group", id=f"evolution-{task_queue}", task_queue=task_queue
        )
        await handle.result()
        return await handle.fetch_history()


async def _replays(workflow_class: type, history: WorkflowHistory) -> bool:
    replayer = Replayer(workflows=[workflow_class], workflow_runner=sandboxed_runner())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    return result.replay_failure is None


async def test_a_patched_change_replays_a_history_recorded_before_it(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    before = await _record(time_skipping_env, Released, task_queue)
    assert await _replays(PatchedChange, before)
    assert not await _replays(DirectChange, before)  # so the replay above proves something


async def test_a_history_recorded_with_the_patch_replays_too(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    after = await _record(time_skipping_env, PatchedChange, task_queue)
    markers = [e for e in after.events if e.HasField("marker_recorded_event_attributes")]
    assert len(markers) == 1
    assert await _replays(PatchedChange, after)
