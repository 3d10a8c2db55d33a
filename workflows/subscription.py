"""One device-group subscription, from signing to its last period (DESIGN.md section 3).

Deterministic: every side effect is an activity; time is workflow time. State survives continue-as-new
through `CarriedState`; signal and update handlers only change in-memory state, the main loop acts."""

# No `from __future__ import annotations` in this module: the sandbox executes it afresh for every workflow
# run, and string annotations made the SDK evaluate each handler's type hints from text every time (about
# a third of the module's cost per run).
from contextlib import suppress
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from models import names
    from models.dunning import DunningPolicy
    from models.enums import CancelMode, SubscriptionStatus
    from models.messages import (
        AgreementReplacement,
        CancelRequest,
        CarriedState,
        Decline,
        DeviceChange,
        DeviceChangeRequest,
        FinishInput,
        ReleaseAgreementInput,
        ReplaceAgreementInput,
        SettleOutcome,
        SettlePeriodInput,
        SignContractInput,
        SignedContract,
        SignupOutcome,
        SubscriptionInput,
        SubscriptionState,
        TransitionInput,
    )
    from models.names import INVALID_DEVICE_CHANGE, SUBSCRIPTION_ENDED
    from workflows import search_attributes as sa
    from workflows.constants import SUBSCRIPTION_WORKFLOW
    from workflows.details import render_details

# Workflow changes since the first recorded histories, each guarded so those histories still replay.
PATCH_RELEASE_AGREEMENT_ON_CANCEL = "release-agreement-on-cancel"
PATCH_LOCAL_SIGNUP = "signup-as-local-activities"
# Renewals as local activities (`_settle`), charge times unindexed while active (`_refresh_details`): one
# patch for both, as each patch costs a search-attribute upsert (TemporalChangeVersion) per run.
PATCH_LEAN_RENEWALS = "lean-renewals"
# Waits measured from when the charge was answered, not from the start of the task that ran it (`_answered`).
PATCH_WAIT_FROM_ANSWER = "wait-from-charge-answer"
# One marker standing for all four changes above, so a run records one patch (one marker and one upsert of
# TemporalChangeVersion) instead of three; and search attributes indexed only where they differ from the
# run's own (`_refresh_details`), the signup's indexed once, after its first charge (`_sign`).
PATCH_LEAN_SIGNUP = "lean-signup"
# Signing and the first charge as one local activity (`_sign`), standing for every change above as well.
PATCH_SIGNUP_IN_ONE_STEP = "signup-in-one-step"

_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=5)
)
_SIGN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=[names.INVALID_SUBSCRIPTION, names.AGREEMENT_REJECTED],
)
# Twice the gateway's default timeout plus the database work: a worker that died mid-charge hands the
# charge to another worker within half a minute.
_ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Signing and the first charge in one step: two gateway calls.
_SIGNUP_TIMEOUT = 2 * _ACTIVITY_TIMEOUT
# The shortest timer: ends a workflow task before a charge that would otherwise share it (see `_settle`).
_YIELD = timedelta(milliseconds=1)
_UNSET = object()
T = TypeVar("T")


@workflow.defn(name=SUBSCRIPTION_WORKFLOW)
class SubscriptionWorkflow:
    @workflow.init
    def __init__(self, input: SubscriptionInput) -> None:
        self._input = input
        carried = input.carried
        self._status = carried.status if carried else SubscriptionStatus.SIGNING
        self._devices: list[str] = list(carried.device_ids if carried else input.device_ids)
        self._removals: list[str] = list(carried.removed_device_ids) if carried else []
        self._additions: list[str] = list(carried.added_device_ids) if carried else []
        self._cancel: CancelRequest | None = (
            CancelRequest(mode=carried.cancel_mode) if carried and carried.cancel_mode else None
        )
        self._cancel_recorded = self._cancel is not None
        self._agreement_token = carried.agreement_token if carried else input.agreement_token
        self._pending_token: str | None = carried.pending_agreement_token if carried else None
        self._agreement_id = carried.agreement_id if carried else ""
        self._anchor_at = carried.anchor_at if carried else None
        self._billing_cycle = carried.billing_cycle if carried else ""
        self._resource_type = carried.resource_type if carried else ""
        self._max_devices = carried.max_devices if carried else 0
        self._period: int | None = carried.period if carried else None
        self._period_start = carried.period_start if carried else None
        self._period_end = carried.period_end if carried else None
        self._paid_through = carried.paid_through if carried else None
        self._next_charge_at: datetime | None = carried.period_end if carried else None
        self._attempt = 0
        self._last_decline = carried.last_decline if carried else None
        self._termination_reason: str | None = None
        self._periods_charged = carried.periods_charged if carried else 0
        self._runs = carried.runs + 1 if carried else 1
        self._finished = False
        self._device_change_seq = carried.device_change_seq if carried else 0
        self._indexed: dict[str, object] = {}
        # Signing and the first period run as local activities (see `_signup_step`); set once per contract.
        self._local_signup = False
        # Renewals as local activities (`_settle`), charge times indexed only off active
        # (`_refresh_details`); set once per run.
        self._lean_renewals = False
        # Whether this workflow task began with a wait (a timer or a signal); see `_settle`.
        self._waited = False
        # When the last charge was answered, until the next wait has used it (`_wait_until_due`).
        self._wait_from_answer = False
        self._answered_at: datetime | None = None
        # Whether this run implies the earlier patches and indexes only what differs (see `run`).
        self._lean_signup = False
        # Signing and the first charge as one local activity (see `_sign`); set once per contract.
        self._signup_in_one_step = False
        # The first charge attempt made with signing, until `_settle` hands it on.
        self._first_charge: SettleOutcome | None = None

    # --- main loop ---------------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: SubscriptionInput) -> SubscriptionState:
        # A run started after a consolidating change has every earlier change; asking for each would record
        # a marker and an upsert apiece. Runs recorded before it ask as they did.
        in_one_step = workflow.patched(PATCH_SIGNUP_IN_ONE_STEP)
        self._lean_signup = in_one_step or workflow.patched(PATCH_LEAN_SIGNUP)
        if self._lean_signup:
            self._signup_in_one_step = in_one_step and input.carried is None
            self._local_signup = input.carried is None
            self._lean_renewals = self._wait_from_answer = True
            started_with = workflow.info().typed_search_attributes
            self._indexed = {key.name: started_with.get(key) for key in sa.SUBSCRIPTION_KEYS}
        else:
            self._local_signup = input.carried is None and workflow.patched(PATCH_LOCAL_SIGNUP)
            self._lean_renewals = workflow.patched(PATCH_LEAN_RENEWALS)
            self._wait_from_answer = workflow.patched(PATCH_WAIT_FROM_ANSWER)
        if input.carried is None:
            signed = await self._sign()
            next_period, due = 0, signed.anchor_at
        else:
            assert self._period is not None and self._period_end is not None
            next_period, due = self._period + 1, self._period_end
        periods_this_run = 0
        while True:
            if next_period > 0 and await self._wait_until_due(due):
                return self.state()
            self._apply_device_changes()
            if self._pending_token is not None:
                await self._replace_agreement()
            if not self._devices:
                await self._finish(SubscriptionStatus.ENDED, "no_devices")
                return self.state()
            paid = await self._charge(next_period, due)
            if paid is None:
                return self.state()
            periods_this_run += 1
            next_period, due = paid.period + 1, paid.period_end
            if periods_this_run >= input.periods_per_run or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._next_run_input())

    async def _sign(self) -> SignedContract:
        request = SignContractInput(
            contract_id=self._input.contract_id,
            user_id=self._input.user_id,
            product_id=self._input.product_id,
            device_ids=self._input.device_ids,
            agreement_token=self._input.agreement_token,
            requested_at=workflow.now(),
            timezone=self._input.timezone,
            voucher_claim_id=self._input.voucher_claim_id,
        )
        try:
            signed = await self._signed(request)
        except (ActivityError, ApplicationError) as failure:
            # A local activity's failure arrives as the activity's own error, an activity's wrapped in one.
            cause = failure.cause if isinstance(failure, ActivityError) else failure
            if isinstance(cause, ApplicationError):
                self._status = SubscriptionStatus.FAILED
                self._termination_reason = cause.message
                if self._local_signup:
                    # Refused in the very task that accepted the signup update: let the update answer
                    # (it sees the failed status) before the workflow fails, or its caller gets no answer.
                    await workflow.wait_condition(workflow.all_handlers_finished)
                raise ApplicationError(
                    cause.message, *cause.details, type=cause.type, non_retryable=True
                ) from None
            raise ApplicationError(
                f"signing did not finish: {failure}", type="SigningFailed", non_retryable=True
            ) from None
        self._agreement_id = signed.agreement_id
        self._anchor_at = signed.anchor_at
        self._billing_cycle = signed.billing_cycle
        self._resource_type = signed.resource_type
        self._max_devices = signed.max_devices
        self._next_charge_at = signed.anchor_at
        # A local signup charges in this same task, and that charge indexes its outcome: indexing here too
        # would be a second upsert that no query could see in between.
        self._refresh_details(index=not (self._lean_signup and self._local_signup))
        return signed

    async def _signed(self, request: SignContractInput) -> SignedContract:
        if not self._signup_in_one_step:
            signed: SignedContract = await self._signup_step(
                names.SIGN_CONTRACT,
                request,
                SignedContract,
                local=self._local_signup,
                retry_policy=_SIGN_RETRY,
                schedule_to_close_timeout=timedelta(minutes=10),
                summary="sign the payment agreement and write the contract",
            )
            return signed
        # One local activity instead of two: one dispatch, one marker and one activation fewer per signup.
        # Its first charge attempt is handed to `_settle`; one it could not make, `_settle` makes.
        outcome: SignupOutcome = await self._signup_step(
            names.SIGN_AND_SETTLE_FIRST,
            request,
            SignupOutcome,
            local=True,
            retry_policy=_SIGN_RETRY,
            schedule_to_close_timeout=timedelta(minutes=10),
            start_to_close_timeout=_SIGNUP_TIMEOUT,
            summary="sign the payment agreement, write the contract and charge the first period",
        )
        self._first_charge = outcome.first
        return outcome.signed

    async def _signup_step(
        self,
        name: str,
        arg: Any,
        result_type: type[T],
        *,
        local: bool,
        retry_policy: RetryPolicy,
        summary: str,
        schedule_to_close_timeout: timedelta | None = None,
        start_to_close_timeout: timedelta = _ACTIVITY_TIMEOUT,
    ) -> T:
        """Run one step as an activity, or, on the signup path, as a local activity.

        A user waits on the signup's answer: as local activities, signing and the first charge run inside
        the workflow task that started the workflow, with no task-queue round trips between them. Both are
        short and idempotent by business key, as every activity here is. Renewals stay ordinary activities:
        they run unattended for years, and operators see them pending, retried and timed in the UI."""
        execute = workflow.execute_local_activity if local else workflow.execute_activity
        result: T = await execute(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=start_to_close_timeout,
            schedule_to_close_timeout=schedule_to_close_timeout,
            retry_policy=retry_policy,
            summary=summary,
        )
        return result

    async def _wait_until_due(self, due: datetime) -> bool:
        """Sleep until the next period is due; True if a cancellation ended the subscription meanwhile."""
        while True:
            now = workflow.now()
            if self._cancel is not None and self._cancel.mode is CancelMode.IMMEDIATELY:
                await self._finish(SubscriptionStatus.CANCELED, self._cancel.reason, revoke_at=now)
                return True
            if self._cancel is not None and not self._cancel_recorded:
                self._cancel_recorded = True
                self._status = SubscriptionStatus.CANCELING
                self._next_charge_at = None
                await self._record(
                    SubscriptionStatus.CANCELING,
                    "cancel_requested",
                    {"mode": self._cancel.mode.value, "reason": self._cancel.reason},
                )
                if self._lean_signup or workflow.patched(PATCH_RELEASE_AGREEMENT_ON_CANCEL):
                    # No charge will follow: the user's payment authorization goes now, not at period end.
                    await workflow.execute_activity(
                        names.RELEASE_AGREEMENT,
                        ReleaseAgreementInput(contract_id=self._input.contract_id, reason="cancel_requested"),
                        start_to_close_timeout=_ACTIVITY_TIMEOUT,
                        retry_policy=_RETRY,
                        summary="release the payment agreement",
                    )
                continue
            if now >= due:
                if self._cancel is not None:
                    await self._finish(
                        SubscriptionStatus.CANCELED, self._cancel.reason, revoke_at=self._paid_through
                    )
                    return True
                return False
            # The timer starts when this task ends, after the charge it ran: measured from `now` alone,
            # every period would start late by as long as its charge took.
            since = max(now, self._answered_at) if self._answered_at is not None else now
            self._answered_at = None
            with suppress(TimeoutError):
                await workflow.wait_condition(
                    self._cancel_unhandled,
                    # Answered after it was due (a charge slower than the rest of its period): a moment's
                    # wait, and the loop above sees the period due by the server's clock.
                    timeout=due - since if since < due else _YIELD,
                    timeout_summary="next period due",
                )
            self._waited = True

    async def _charge(self, period: int, due: datetime) -> SettleOutcome | None:
        """Claims 1-5: settle the period, retrying soft declines after the product's delays."""
        attempt = 1
        while True:
            self._attempt = attempt
            self._apply_device_changes()
            outcome = await self._settle(
                SettlePeriodInput(
                    contract_id=self._input.contract_id,
                    period=period,
                    attempt=attempt,
                    device_ids=tuple(self._devices),
                    due_at=due,
                )
            )
            if outcome.kind == "paid":
                self._record_paid(outcome)
                self._answered_at = self._answered(outcome)
                return outcome
            if outcome.kind == "not_verified":
                reason = outcome.reason or "not_verified"
                status = SubscriptionStatus.ENDED if reason == "no_devices" else SubscriptionStatus.TERMINATED
                await self._finish(status, f"renewal_not_verified:{reason}")
                return None
            now = self._answered(outcome)
            self._last_decline = Decline(
                code=outcome.decline_code or "declined",
                kind=outcome.decline_kind or "soft",
                at=now,
                attempt=attempt,
            )
            policy = DunningPolicy(
                delays_seconds=outcome.dunning_delays_seconds, max_attempts=outcome.dunning_max_attempts
            )
            delay = None if outcome.decline_kind == "hard" else policy.delay_after(attempt)
            if delay is None:
                status = SubscriptionStatus.FAILED if period == 0 else SubscriptionStatus.TERMINATED
                reason = (
                    f"hard_decline:{outcome.decline_code}"
                    if outcome.decline_kind == "hard"
                    else f"dunning_exhausted:{attempt}_attempts"
                )
                await self._finish(status, reason)
                return None
            if period > 0:
                self._status = SubscriptionStatus.PAST_DUE
            self._next_charge_at = now + delay
            self._refresh_details()
            with suppress(TimeoutError):
                await workflow.wait_condition(
                    self._cancel_unhandled, timeout=delay, timeout_summary=f"retry period {period}"
                )
            self._waited = True
            if self._cancel is not None:
                # Nothing is paid beyond paid-through while past due: any cancel ends it now.
                await self._finish(SubscriptionStatus.CANCELED, self._cancel.reason, revoke_at=workflow.now())
                return None
            attempt += 1

    async def _settle(self, request: SettlePeriodInput) -> SettleOutcome:
        """One charge attempt: as a local activity when it can be, else as an ordinary activity.

        A renewal that follows a wait runs as a local activity, inside the workflow task its timer woke:
        no activity task to dispatch, one workflow task per period instead of two. It is idempotent by
        business key like every charge, so a worker that dies mid-charge only means the task is retried.
        A charge still failing after the input's `local_charge_attempts` (the gateway or the database is
        down; about 15 s by default) goes on as an ordinary activity, which operators see pending, retried
        and timed in the UI. A charge that would follow another in the same task (a subscription catching
        up on overdue periods) first ends the task with the shortest timer: one task never strings charges
        together, holding its slot in the worker while signups wait."""
        summary = f"period {request.period}, attempt {request.attempt}"
        if self._first_charge is not None:
            made, self._first_charge = self._first_charge, None
            return made
        if request.period == 0:
            first: SettleOutcome = await self._signup_step(
                names.SETTLE_PERIOD,
                request,
                SettleOutcome,
                local=self._local_signup,
                retry_policy=_RETRY,
                summary=summary,
            )
            return first
        if self._lean_renewals:
            if not self._waited:
                await workflow.sleep(_YIELD, summary=f"yield before period {request.period}")
            self._waited = False
            try:
                renewal: SettleOutcome = await workflow.execute_local_activity(
                    names.SETTLE_PERIOD,
                    request,
                    result_type=SettleOutcome,
                    start_to_close_timeout=_ACTIVITY_TIMEOUT,
                    # Attempts, not a schedule-to-close timeout: the SDK's core restarts that timeout on
                    # every local retry, so it never ends a charge whose attempts fail fast.
                    retry_policy=replace(_RETRY, maximum_attempts=self._input.local_charge_attempts),
                    summary=summary,
                )
                return renewal
            except (ActivityError, ApplicationError, ActivityTimeout) as failure:
                workflow.logger.warning(
                    "charge still failing in the worker, retried as an activity: %s", failure
                )
        outcome: SettleOutcome = await workflow.execute_activity(
            names.SETTLE_PERIOD,
            request,
            result_type=SettleOutcome,
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            retry_policy=_RETRY,
            summary=summary,
        )
        return outcome

    def _answered(self, outcome: SettleOutcome) -> datetime:
        """When the charge was answered. `workflow.now()` is when the current workflow task began, and a
        local activity runs inside that task without moving it on; the worker's clock, recorded in the
        outcome, says how much later the answer came."""
        now = workflow.now()
        if self._wait_from_answer and outcome.answered_at is not None and outcome.answered_at > now:
            return outcome.answered_at
        return now

    def _record_paid(self, outcome: SettleOutcome) -> None:
        self._period = outcome.period
        self._period_start, self._period_end = outcome.period_start, outcome.period_end
        self._paid_through = outcome.period_end
        self._devices = list(outcome.device_ids)
        self._attempt = 0
        self._periods_charged += 1
        if self._cancel is None:
            self._status = SubscriptionStatus.ACTIVE
            self._next_charge_at = outcome.period_end
        self._refresh_details()

    async def _finish(
        self, status: SubscriptionStatus, reason: str, *, revoke_at: datetime | None = None
    ) -> None:
        self._status = status
        self._termination_reason = reason
        self._next_charge_at = None
        await workflow.execute_activity(
            names.FINISH_CONTRACT,
            FinishInput(
                contract_id=self._input.contract_id,
                status=status,
                reason=reason,
                revoke_at=revoke_at or workflow.now(),
            ),
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            retry_policy=_RETRY,
            summary=f"{status.value}: {reason}",
        )
        self._finished = True
        self._refresh_details()

    async def _record(self, status: SubscriptionStatus, kind: str, detail: dict[str, str]) -> None:
        self._refresh_details()
        await workflow.execute_activity(
            names.RECORD_TRANSITION,
            TransitionInput(
                contract_id=self._input.contract_id,
                status=status,
                kind=kind,
                dedup_key=f"{self._input.contract_id}:{kind}",
                period=self._period,
                detail=detail,
            ),
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            retry_policy=_RETRY,
            summary=kind,
        )

    async def _replace_agreement(self) -> None:
        token = self._pending_token
        assert token is not None
        self._pending_token = None
        self._device_change_seq += 1
        try:
            self._agreement_id = await workflow.execute_activity(
                names.REPLACE_AGREEMENT,
                ReplaceAgreementInput(
                    contract_id=self._input.contract_id,
                    agreement_token=token,
                    dedup_key=f"agreement-{self._device_change_seq}",
                ),
                result_type=str,
                start_to_close_timeout=_ACTIVITY_TIMEOUT,
                retry_policy=RetryPolicy(
                    maximum_interval=timedelta(minutes=5),
                    non_retryable_error_types=[names.AGREEMENT_REJECTED],
                ),
                summary="replace the payment agreement",
            )
            self._agreement_token = token
        except ActivityError:
            # The old agreement stays in force; the refusal is visible in the event log and the details.
            workflow.logger.warning("agreement replacement refused; keeping the current agreement")

    def _next_run_input(self) -> SubscriptionInput:
        assert self._anchor_at is not None and self._period is not None
        assert (
            self._period_start is not None and self._period_end is not None and self._paid_through is not None
        )
        carried = CarriedState(
            status=self._status,
            agreement_id=self._agreement_id,
            agreement_token=self._agreement_token,
            anchor_at=self._anchor_at,
            billing_cycle=self._billing_cycle,
            resource_type=self._resource_type,
            max_devices=self._max_devices,
            period=self._period,
            period_start=self._period_start,
            period_end=self._period_end,
            paid_through=self._paid_through,
            device_ids=tuple(self._devices),
            removed_device_ids=tuple(self._removals),
            added_device_ids=tuple(self._additions),
            cancel_mode=self._cancel.mode if self._cancel else None,
            pending_agreement_token=self._pending_token,
            last_decline=self._last_decline,
            periods_charged=self._periods_charged,
            runs=self._runs,
            device_change_seq=self._device_change_seq,
        )
        return self._input.model_copy(update={"carried": carried})

    # --- device group --------------------------------------------------------------------------------

    def _apply_device_changes(self) -> None:
        if not self._removals and not self._additions:
            return
        if self._first_charge is not None:
            # The first charge, made with signing, was for the group as signed up: changes that arrived
            # meanwhile (a signup step outlasting its workflow task) wait for the next period.
            return
        kept = [d for d in self._devices if d not in self._removals]
        self._devices = kept + [d for d in self._additions if d not in kept]
        self._removals, self._additions = [], []
        self._refresh_details()

    def _remove(self, device_id: str) -> None:
        if device_id in self._additions:
            self._additions.remove(device_id)
        elif device_id in self._devices and device_id not in self._removals:
            self._removals.append(device_id)

    def _add(self, device_id: str) -> None:
        if device_id in self._removals:
            self._removals.remove(device_id)
        elif device_id not in self._devices and device_id not in self._additions:
            self._additions.append(device_id)

    def _group_after_changes(self) -> list[str]:
        return [d for d in self._devices if d not in self._removals] + self._additions

    # --- messages ------------------------------------------------------------------------------------

    def _cancel_unhandled(self) -> bool:
        if self._cancel is None:
            return False
        return self._cancel.mode is CancelMode.IMMEDIATELY or not self._cancel_recorded

    def _accept_cancel(self, request: CancelRequest) -> None:
        if self._status.is_final:
            return
        if self._cancel is None or (
            request.mode is CancelMode.IMMEDIATELY and self._cancel.mode is not CancelMode.IMMEDIATELY
        ):
            self._cancel = request
        self._refresh_details()

    @workflow.signal
    def cancel(self, request: CancelRequest) -> None:
        self._accept_cancel(request)

    @workflow.update
    async def request_cancel(self, request: CancelRequest) -> SubscriptionState:
        self._accept_cancel(request)
        # Answer once the cancellation has taken effect (canceled now, or recorded as at period end).
        await workflow.wait_condition(
            lambda: self._finished or (self._cancel_recorded and not self._cancel_unhandled())
        )
        return self.state()

    @request_cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        if self._status.is_final and self._status is not SubscriptionStatus.CANCELED:
            raise ApplicationError(f"subscription already {self._status.value}", type=SUBSCRIPTION_ENDED)

    @workflow.update
    async def signup_outcome(self) -> SubscriptionState:
        """Answers once signing and the first charge attempt are decided (paid, declined or failed)."""
        await workflow.wait_condition(
            lambda: self._periods_charged > 0 or self._last_decline is not None or self._status.is_final
        )
        return self.state()

    @workflow.signal
    def device_removed(self, change: DeviceChange) -> None:
        self._remove(change.device_id)
        self._refresh_details()

    @workflow.signal
    def device_added(self, change: DeviceChange) -> None:
        self._add(change.device_id)
        self._refresh_details()

    @workflow.update
    def change_devices(self, request: DeviceChangeRequest) -> SubscriptionState:
        for device_id in request.remove:
            self._remove(device_id)
        for device_id in request.add:
            self._add(device_id)
        self._refresh_details()
        return self.state()

    @change_devices.validator
    def _validate_device_change(self, request: DeviceChangeRequest) -> None:
        if self._status.is_final:
            raise ApplicationError(f"subscription already {self._status.value}", type=SUBSCRIPTION_ENDED)
        group = self._group_after_changes()
        for device_id in request.remove:
            if device_id not in group:
                raise ApplicationError(
                    f"device {device_id} is not in this subscription",
                    {"field": "device_id", "code": "device_not_in_group"},
                    type=INVALID_DEVICE_CHANGE,
                )
        after = [d for d in group if d not in request.remove]
        for device_id in request.add:
            if device_id in after:
                raise ApplicationError(
                    f"device {device_id} is already in this subscription",
                    {"field": "device_ids", "code": "device_already_in_group"},
                    type=INVALID_DEVICE_CHANGE,
                )
            after.append(device_id)
        if self._max_devices and len(after) > self._max_devices:
            raise ApplicationError(
                f"at most {self._max_devices} devices per group",
                {"field": "device_ids", "code": "too_many_devices"},
                type=INVALID_DEVICE_CHANGE,
            )

    @workflow.signal
    def replace_agreement(self, replacement: AgreementReplacement) -> None:
        if not self._status.is_final:
            self._pending_token = replacement.agreement_token

    @workflow.query
    def state(self) -> SubscriptionState:
        return SubscriptionState(
            contract_id=self._input.contract_id,
            user_id=self._input.user_id,
            product_id=self._input.product_id,
            status=self._status,
            device_ids=tuple(self._devices),
            pending_removals=tuple(self._removals),
            pending_additions=tuple(self._additions),
            period=self._period,
            period_start=self._period_start,
            period_end=self._period_end,
            paid_through=self._paid_through,
            next_charge_at=self._next_charge_at,
            attempt=self._attempt,
            last_decline=self._last_decline,
            cancel_mode=self._cancel.mode if self._cancel else None,
            termination_reason=self._termination_reason,
            periods_charged=self._periods_charged,
            run_number=self._runs,
        )

    def _refresh_details(self, *, index: bool = True) -> None:
        """Current details for the UI, and search attributes for queries (upserted only when changed,
        each upsert being a history event and a write to the server's visibility store).

        `NextChargeAt` and `PaidThrough` are indexed while the subscription is not active: past due (until
        when it is paid, when the next retry runs), canceling (when it ends), or ended. An active one moves
        both every period; indexing them there cost the server about a third of its work per period, so
        they stay unset while active and live in the current details and the `state` query."""
        state = self.state()
        workflow.set_current_details(render_details(state))
        if not index:
            return
        times_indexed = not (self._lean_renewals and state.status is SubscriptionStatus.ACTIVE)
        wanted: list[tuple[SearchAttributeKey[Any], object]] = [
            (sa.SUBSCRIPTION_STATUS, state.status.value),
            (sa.USER_ID, state.user_id),
            (sa.PRODUCT_ID, state.product_id),
            (sa.DEVICE_COUNT, len(state.device_ids)),
            (sa.NEXT_CHARGE_AT, state.next_charge_at if times_indexed else None),
            (sa.PAID_THROUGH, state.paid_through if times_indexed else None),
        ]
        updates: list[SearchAttributeUpdate[Any]] = []
        for key, value in wanted:
            if self._indexed.get(key.name, _UNSET) == value:
                continue
            self._indexed[key.name] = value
            updates.append(key.value_unset() if value is None else key.value_set(value))
        if updates:
            workflow.upsert_search_attributes(updates)
