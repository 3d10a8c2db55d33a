"""One device-group subscription, from signing to its last period (DESIGN.md section 3).

Deterministic: every side effect is an activity, time is workflow time. Signal and update handlers only
change the in-memory state; the main loop acts on it. State survives continue-as-new in `CarriedState`."""

# No `from __future__ import annotations` here: the sandbox executes this module afresh for every run, and
# string annotations would make the SDK evaluate each handler's type hints from text every time.
from contextlib import suppress
from dataclasses import replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from models import names
    from models.dunning import DunningPolicy
    from models.enums import CancelMode, DeclineKind, SettleKind, SubscriptionStatus
    from models.messages import (
        CancelRequest,
        CarriedState,
        Decline,
        FinishInput,
        Message,
        ReleaseAgreementInput,
        RenewalNoticeInput,
        RenewalNoticeOutcome,
        ReplaceAgreementInput,
        SettleOutcome,
        SettlePeriodInput,
        SignedContract,
        SignupOutcome,
        SubscriptionInput,
        SubscriptionState,
        TransitionInput,
    )
    from models.names import AGREEMENT_REJECTED, INVALID_SUBSCRIPTION, SIGNING_FAILED
    from workflows import device_group
    from workflows.constants import SUBSCRIPTION_WORKFLOW
    from workflows.subscription_messages import SubscriptionMessages
    from workflows.visibility import Visibility

_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=5)
)
_SIGN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=[INVALID_SUBSCRIPTION, AGREEMENT_REJECTED],
)
# Twice the gateway's default timeout plus the database work: a worker that died mid-charge hands the
# charge to another worker soon after.
_ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Signing and the first charge in one step: two gateway calls.
_SIGNUP_TIMEOUT = 2 * _ACTIVITY_TIMEOUT
_SIGNUP_DEADLINE = timedelta(minutes=10)
# The shortest timer: ends a workflow task before a charge that would otherwise share it (see `_attempt`).
_YIELD = timedelta(milliseconds=1)


@workflow.defn(name=SUBSCRIPTION_WORKFLOW)
class SubscriptionWorkflow(SubscriptionMessages):
    @workflow.init
    def __init__(self, input: SubscriptionInput) -> None:
        self._input = input
        carried = input.carried
        self._state = (
            carried.state.model_copy(update={"run_number": carried.state.run_number + 1})
            if carried
            else SubscriptionState(
                contract_id=input.contract_id,
                user_id=input.user_id,
                product_id=input.product_id,
                status=SubscriptionStatus.SIGNING,
                device_ids=input.device_ids,
            )
        )
        self._signed: SignedContract | None = carried.signed if carried else None
        self._agreement_token = carried.agreement_token if carried else input.agreement_token
        self._pending_token = carried.pending_agreement_token if carried else None
        self._cancel = carried.cancel if carried else None
        self._cancel_recorded = carried.cancel_recorded if carried else False
        self._device_change_seq = carried.device_change_seq if carried else 0
        # When the next renewal's upcoming notice falls; None once sent, or when the product gives none.
        self._notice_at = carried.notice_at if carried else None
        self._finished = False
        # Whether this workflow task began with a wait (a timer or a message); see `_attempt`.
        self._waited = False
        # When the last charge was answered, until the next wait has measured from it.
        self._answered_at: datetime | None = None
        self._visibility = Visibility(workflow.info().typed_search_attributes)

    @workflow.run
    async def run(self, input: SubscriptionInput) -> SubscriptionState:
        charged_this_run = 0
        if self._signed is None:
            signup = await self._sign_up()
            if not await self._charge(0, signup.signed.anchor_at, made=signup.first):
                return self._state
            charged_this_run = 1
        while True:
            if charged_this_run >= input.periods_per_run or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._next_run_input())
            assert self._state.period is not None and self._state.period_end is not None
            period, due = self._state.period + 1, self._state.period_end
            if await self._wait_until_due(period, due):
                return self._state
            self._apply_device_changes()
            if self._pending_token is not None:
                await self._replace_agreement()
            if not self._state.device_ids:
                await self._finish(SubscriptionStatus.ENDED, "no_devices")
                return self._state
            if not await self._charge(period, due):
                return self._state
            charged_this_run += 1

    # --- signing -------------------------------------------------------------------------------------

    async def _sign_up(self) -> SignupOutcome:
        """Seed claims 1-2: sign, write the contract and make the first period's first charge attempt, as one
        local activity inside the task that started the workflow (the user waits on its answer)."""
        request = self._input.signing(workflow.now())
        try:
            outcome: SignupOutcome = await workflow.execute_local_activity(
                names.SIGN_AND_SETTLE_FIRST,
                request,
                result_type=SignupOutcome,
                start_to_close_timeout=_SIGNUP_TIMEOUT,
                schedule_to_close_timeout=_SIGNUP_DEADLINE,
                retry_policy=_SIGN_RETRY,
                summary="sign the payment agreement, write the contract and charge the first period",
            )
        except (ActivityError, ApplicationError) as failure:
            # A local activity's failure arrives as the activity's own error, or wrapped in an ActivityError.
            cause = failure.cause if isinstance(failure, ActivityError) else failure
            self._state.status = SubscriptionStatus.FAILED
            if isinstance(cause, ApplicationError):
                self._state.termination_reason = cause.message
                error = ApplicationError(cause.message, *cause.details, type=cause.type, non_retryable=True)
            else:
                self._state.termination_reason = f"signing did not finish: {failure}"
                error = ApplicationError(
                    self._state.termination_reason, type=SIGNING_FAILED, non_retryable=True
                )
            # Let the signup update answer (it sees the failed status) before the workflow fails.
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise error from None
        self._signed = outcome.signed
        self._state.next_charge_at = outcome.signed.anchor_at
        # The first charge's outcome follows in this same task and is indexed then: one upsert, not two.
        self._visibility.publish(self._state, index=False)
        return outcome

    # --- waiting -------------------------------------------------------------------------------------

    async def _wait_until_due(self, period: int, due: datetime) -> bool:
        """Sleep until the next period is due, telling the user of its charge the product's notice before;
        True if a cancellation ended the subscription meanwhile."""
        notice_at, self._notice_at = self._notice_at, None
        if notice_at is not None and notice_at < due:
            if await self._wait_until(notice_at, due=due, summary="renewal notice due"):
                return True
            # A cancel at period end in the window: nothing will be charged, so nothing is announced.
            if self._cancel is None and workflow.now() < due:
                await self._send_notice(period, due)
        return await self._wait_until(due, due=due, summary="next period due")

    async def _wait_until(self, until: datetime, *, due: datetime, summary: str) -> bool:
        """Sleep until `until`, acting on cancellations as they come; True if one ended the subscription."""
        while True:
            now = workflow.now()
            if self._cancel is not None and self._cancel.mode is CancelMode.IMMEDIATELY:
                await self._finish(SubscriptionStatus.CANCELED, self._cancel.reason, revoke_at=now)
                return True
            if self._cancel is not None and not self._cancel_recorded:
                await self._record_canceling(self._cancel)
                continue
            if now >= until:
                if until >= due and self._cancel is not None:
                    await self._finish(
                        SubscriptionStatus.CANCELED, self._cancel.reason, revoke_at=self._state.paid_through
                    )
                    return True
                return False
            # Measured from when the last charge was answered: a local activity runs inside its task
            # without moving `workflow.now()` on, and every period would otherwise start late by as long
            # as its charge took.
            since = max(now, self._answered_at) if self._answered_at is not None else now
            self._answered_at = None
            with suppress(TimeoutError):
                await workflow.wait_condition(
                    self._cancel_unhandled,
                    # Answered after it was due: a moment's wait, and the loop sees the period due.
                    timeout=until - since if since < until else _YIELD,
                    timeout_summary=summary,
                )
            self._waited = True

    async def _send_notice(self, period: int, due: datetime) -> None:
        """Quote the coming charge to the user; a notice still failing when the charge is due is given up,
        as it would announce a charge already made."""
        try:
            await workflow.execute_activity(
                names.SEND_RENEWAL_NOTICE,
                RenewalNoticeInput(
                    contract_id=self._input.contract_id,
                    period=period,
                    device_ids=tuple(device_group.after_changes(self._state)),
                    due_at=due,
                ),
                result_type=RenewalNoticeOutcome,
                start_to_close_timeout=_ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=due - workflow.now(),
                retry_policy=_RETRY,
                summary=f"renewal notice for period {period}",
            )
        except ActivityError as failure:
            workflow.logger.warning("renewal notice for period %d not sent: %s", period, failure)

    async def _record_canceling(self, cancel: CancelRequest) -> None:
        self._cancel_recorded = True
        self._state.status = SubscriptionStatus.CANCELING
        self._state.next_charge_at = None
        await self._record(
            SubscriptionStatus.CANCELING,
            "cancel_requested",
            {"mode": cancel.mode.value, "reason": cancel.reason},
        )
        # No charge will follow: the user's payment authorization goes now, not at period end.
        await self._step(
            names.RELEASE_AGREEMENT,
            ReleaseAgreementInput(contract_id=self._input.contract_id, reason="cancel_requested"),
            "release the payment agreement",
        )

    # --- charging ------------------------------------------------------------------------------------

    async def _charge(self, period: int, due: datetime, *, made: SettleOutcome | None = None) -> bool:
        """Seed claims 3-5: charge the period, retrying soft declines after the product's delays; whether
        it was paid. `made` is a first attempt already made (at signup)."""
        attempt = 1
        while True:
            self._state.attempt = attempt
            if made is None:
                self._apply_device_changes()
                outcome = await self._attempt(
                    SettlePeriodInput(
                        contract_id=self._input.contract_id,
                        period=period,
                        attempt=attempt,
                        device_ids=self._state.device_ids,
                        due_at=due,
                    )
                )
            else:
                outcome, made = made, None
            answered = max(workflow.now(), outcome.answered_at)
            if outcome.kind is SettleKind.PAID:
                self._record_paid(outcome)
                self._answered_at = answered
                return True
            if outcome.kind is SettleKind.NOT_VERIFIED:
                reason = outcome.reason or "not_verified"
                status = SubscriptionStatus.ENDED if reason == "no_devices" else SubscriptionStatus.TERMINATED
                await self._finish(status, f"renewal_not_verified:{reason}")
                return False
            decline_kind = outcome.decline_kind or DeclineKind.SOFT
            self._state.last_decline = Decline(
                code=outcome.decline_code or "declined", kind=decline_kind, at=answered, attempt=attempt
            )
            policy = DunningPolicy(
                delays_seconds=outcome.dunning_delays_seconds, max_attempts=outcome.dunning_max_attempts
            )
            delay = None if decline_kind is DeclineKind.HARD else policy.delay_after(attempt)
            if delay is None:
                reason = (
                    f"hard_decline:{outcome.decline_code}"
                    if decline_kind is DeclineKind.HARD
                    else f"dunning_exhausted:{attempt}_attempts"
                )
                status = SubscriptionStatus.FAILED if period == 0 else SubscriptionStatus.TERMINATED
                await self._finish(status, reason)
                return False
            if period > 0:
                self._state.status = SubscriptionStatus.PAST_DUE
            self._state.next_charge_at = answered + delay
            self._visibility.publish(self._state)
            with suppress(TimeoutError):
                await workflow.wait_condition(
                    self._cancel_unhandled, timeout=delay, timeout_summary=f"retry period {period}"
                )
            self._waited = True
            if self._cancel is not None:
                # Nothing is paid beyond paid-through while past due: any cancel ends it now.
                await self._finish(SubscriptionStatus.CANCELED, self._cancel.reason, revoke_at=workflow.now())
                return False
            attempt += 1

    async def _attempt(self, request: SettlePeriodInput) -> SettleOutcome:
        """One charge attempt, as a local activity inside the workflow task its wait woke: one task per
        period, no activity task to dispatch. Idempotent by business key like every charge, so a worker
        that dies mid-charge only means the task is retried.

        A renewal still failing after `local_charge_attempts` (the gateway or the database down) goes on
        as an ordinary activity, which operators see pending, retried and timed in the UI. A charge that
        would follow another in the same task first ends the task with the shortest timer: one task never
        strings charges together, holding its worker slot while signups wait."""
        summary = f"period {request.period}, attempt {request.attempt}"
        if request.period == 0:
            # The user is still waiting on the signup's answer: retried in the worker until it is made.
            first: SettleOutcome = await workflow.execute_local_activity(
                names.SETTLE_PERIOD,
                request,
                result_type=SettleOutcome,
                start_to_close_timeout=_ACTIVITY_TIMEOUT,
                retry_policy=_RETRY,
                summary=summary,
            )
            return first
        if not self._waited:
            await workflow.sleep(_YIELD, summary=f"yield before period {request.period}")
        self._waited = False
        try:
            renewal: SettleOutcome = await workflow.execute_local_activity(
                names.SETTLE_PERIOD,
                request,
                result_type=SettleOutcome,
                start_to_close_timeout=_ACTIVITY_TIMEOUT,
                # Attempts, not a schedule-to-close timeout: the SDK restarts that timeout on every local
                # retry, so it would never end a charge whose attempts fail fast.
                retry_policy=replace(_RETRY, maximum_attempts=self._input.local_charge_attempts),
                summary=summary,
            )
            return renewal
        except (ActivityError, ApplicationError, ActivityTimeout) as failure:
            workflow.logger.warning("charge still failing in the worker, retried as an activity: %s", failure)
        outcome: SettleOutcome = await workflow.execute_activity(
            names.SETTLE_PERIOD,
            request,
            result_type=SettleOutcome,
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            retry_policy=_RETRY,
            summary=summary,
        )
        return outcome

    def _record_paid(self, outcome: SettleOutcome) -> None:
        """Seed claim 6: the period is paid, its entitlements opened (by the settling activity)."""
        state = self._state
        state.period, state.period_start = outcome.period, outcome.period_start
        state.period_end = state.paid_through = outcome.period_end
        state.device_ids = outcome.device_ids
        state.attempt = 0
        state.periods_charged += 1
        self._notice_at = outcome.notice_at
        if self._cancel is None:
            state.status = SubscriptionStatus.ACTIVE
            state.next_charge_at = outcome.period_end
        self._visibility.publish(state)

    # --- other steps ---------------------------------------------------------------------------------

    async def _finish(
        self, status: SubscriptionStatus, reason: str, *, revoke_at: datetime | None = None
    ) -> None:
        """Close the contract for good: revoke entitlements, release the agreement, record why."""
        self._state.status = status
        self._state.termination_reason = reason
        self._state.next_charge_at = None
        await self._step(
            names.FINISH_CONTRACT,
            FinishInput(
                contract_id=self._input.contract_id,
                status=status,
                reason=reason,
                revoke_at=revoke_at or workflow.now(),
            ),
            f"{status.value}: {reason}",
        )
        self._finished = True
        self._visibility.publish(self._state)

    async def _record(self, status: SubscriptionStatus, kind: str, detail: dict[str, str]) -> None:
        self._visibility.publish(self._state)
        await self._step(
            names.RECORD_TRANSITION,
            TransitionInput(
                contract_id=self._input.contract_id,
                status=status,
                kind=kind,
                dedup_key=f"{self._input.contract_id}:{kind}",
                period=self._state.period,
                detail=detail,
            ),
            kind,
        )

    async def _step(self, name: str, arg: Message, summary: str) -> None:
        """An ordinary activity that closes or records: retried until it is done, visible in the UI."""
        await workflow.execute_activity(
            name, arg, start_to_close_timeout=_ACTIVITY_TIMEOUT, retry_policy=_RETRY, summary=summary
        )

    async def _replace_agreement(self) -> None:
        assert self._pending_token is not None and self._signed is not None
        token, self._pending_token = self._pending_token, None
        self._device_change_seq += 1
        try:
            agreement_id: str = await workflow.execute_activity(
                names.REPLACE_AGREEMENT,
                ReplaceAgreementInput(
                    contract_id=self._input.contract_id,
                    agreement_token=token,
                    dedup_key=f"agreement-{self._device_change_seq}",
                ),
                result_type=str,
                start_to_close_timeout=_ACTIVITY_TIMEOUT,
                retry_policy=RetryPolicy(
                    maximum_interval=timedelta(minutes=5), non_retryable_error_types=[AGREEMENT_REJECTED]
                ),
                summary="replace the payment agreement",
            )
        except ActivityError:
            # The old agreement stays in force; the refusal is visible in the event log and the details.
            workflow.logger.warning("agreement replacement refused; keeping the current agreement")
            return
        self._signed = self._signed.model_copy(update={"agreement_id": agreement_id})
        self._agreement_token = token

    def _apply_device_changes(self) -> None:
        if device_group.apply_changes(self._state):
            self._visibility.publish(self._state)

    def _next_run_input(self) -> SubscriptionInput:
        assert self._signed is not None
        carried = CarriedState(
            state=self._state,
            signed=self._signed,
            agreement_token=self._agreement_token,
            pending_agreement_token=self._pending_token,
            cancel=self._cancel,
            cancel_recorded=self._cancel_recorded,
            device_change_seq=self._device_change_seq,
            notice_at=self._notice_at,
        )
        return self._input.model_copy(update={"carried": carried})
