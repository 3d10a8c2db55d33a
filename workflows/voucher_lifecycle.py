"""One voucher's lifecycle on durable timers: open the claim window (if it was scheduled), expire the
unused claims at the use window's end, terminate at the validity's end (seed CN112346628A, node rules).

Workflow id `voucher-<id>`, started when the operator enables the voucher. The database stays the truth:
each step is an idempotent activity and the workflow mirrors the status it reports into the search
attributes VoucherStatus / VoucherId and the current details, so the Temporal UI lists vouchers by state.
A `terminate` signal (sent by the API after it terminated the voucher) ends the wait early."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from vouchers.lifecycle import (
        EXPIRE_CLAIMS,
        OPEN_CLAIM_WINDOW,
        TERMINATE_SIGNAL,
        TERMINATE_VOUCHER,
        VOUCHER_LIFECYCLE_WORKFLOW,
        TerminateRequest,
        VoucherLifecycleInput,
        VoucherLifecycleState,
        VoucherStepInput,
        VoucherStepResult,
    )
    from workflows.search_attributes import VOUCHER_ID, VOUCHER_STATUS

VALIDITY_ENDED = "validity ended"

_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))
_SUMMARIES = {
    OPEN_CLAIM_WINDOW: "open the claim window",
    EXPIRE_CLAIMS: "expire unused claims at the use window's end",
    TERMINATE_VOUCHER: "terminate at the validity's end",
}


@workflow.defn(name=VOUCHER_LIFECYCLE_WORKFLOW)
class VoucherLifecycleWorkflow:
    @workflow.init
    def __init__(self, input: VoucherLifecycleInput) -> None:
        self._input = input
        self._status = input.status
        self._terminated = False
        self._published: str | None = None
        self._terminate: TerminateRequest | None = None
        self._next: tuple[str, datetime] | None = None
        self._expired_claims = 0

    @workflow.run
    async def run(self, input: VoucherLifecycleInput) -> VoucherLifecycleState:
        self._publish()
        steps = [(EXPIRE_CLAIMS, input.use_ends_at), (TERMINATE_VOUCHER, input.valid_until)]
        if input.scheduled:
            steps.insert(0, (OPEN_CLAIM_WINDOW, input.claim_starts_at))
        for step, at in steps:
            if self._terminated or await self._interrupted_before(step, at):
                break
            await self._run(step, at, VALIDITY_ENDED)
        self._next = None
        if self._terminate is not None and not self._terminated:
            reason = self._terminate.reason
            await self._run(TERMINATE_VOUCHER, workflow.now(), reason, summary=f"terminate: {reason}")
        return self.state()

    @workflow.signal(name=TERMINATE_SIGNAL)
    def terminate(self, request: TerminateRequest) -> None:
        if self._terminate is None:
            self._terminate = request

    @workflow.query
    def state(self) -> VoucherLifecycleState:
        step, at = self._next if self._next else (None, None)
        return VoucherLifecycleState(
            voucher_id=self._input.voucher_id,
            status=self._status,
            next_step=step,
            next_step_at=at,
            expired_claims=self._expired_claims,
        )

    async def _interrupted_before(self, step: str, at: datetime) -> bool:
        """Wait (durably) until `at`; True when a terminate signal came first."""
        self._next = (step, at)
        self._publish()
        delay = at - workflow.now()
        if delay > timedelta(0):
            with suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._terminate is not None, timeout=delay, timeout_summary=_SUMMARIES[step]
                )
        return self._terminate is not None

    async def _run(self, step: str, at: datetime, reason: str, *, summary: str | None = None) -> None:
        result = await workflow.execute_activity(
            step,
            VoucherStepInput(voucher_id=self._input.voucher_id, at=at, reason=reason),
            result_type=VoucherStepResult,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=_RETRY,
            summary=summary or _SUMMARIES[step],
        )
        self._status = result.status
        self._terminated = result.terminated
        self._expired_claims += result.expired_claims
        self._publish()

    def _publish(self) -> None:
        if self._published != self._status:
            workflow.upsert_search_attributes(
                [VOUCHER_ID.value_set(self._input.voucher_id), VOUCHER_STATUS.value_set(self._status)]
            )
            self._published = self._status
        lines = [f"**Voucher:** {self._input.voucher_id}", f"**Status:** {self._status}"]
        if self._next is not None:
            step, at = self._next
            lines.append(f"**Next:** {_SUMMARIES[step]} at {at.isoformat(timespec='seconds')}")
        if self._expired_claims:
            lines.append(f"**Claims expired:** {self._expired_claims}")
        workflow.set_current_details("\n\n".join(lines))
