"""The subscription workflow's message handlers: cancel, device changes, a new payment agreement, the signup
outcome and the state query. They change only in-memory state; the workflow's main loop acts on it."""

# No `from __future__ import annotations`: the SDK reads these handlers' type hints on every run.
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from models.enums import CancelMode, SubscriptionStatus
from models.messages import (
    AgreementReplacement,
    CancelRequest,
    DeviceChange,
    DeviceChangeRequest,
    SignedContract,
    SubscriptionState,
)
from models.names import SUBSCRIPTION_ENDED
from workflows import device_group
from workflows.visibility import Visibility


class SubscriptionMessages:
    """Handlers shared with `SubscriptionWorkflow`, which sets these attributes in its constructor."""

    _state: SubscriptionState
    _signed: SignedContract | None
    _cancel: CancelRequest | None
    _cancel_recorded: bool
    _finished: bool
    _pending_token: str | None
    _visibility: Visibility

    def _cancel_unhandled(self) -> bool:
        if self._cancel is None:
            return False
        return self._cancel.mode is CancelMode.IMMEDIATELY or not self._cancel_recorded

    def _accept_cancel(self, request: CancelRequest) -> None:
        if self._state.status.is_final:
            return
        if self._cancel is None or (
            request.mode is CancelMode.IMMEDIATELY and self._cancel.mode is not CancelMode.IMMEDIATELY
        ):
            self._cancel = request
            self._state.cancel_mode = request.mode
        self._visibility.publish(self._state)

    def _refuse_if_ended(self) -> None:
        if self._state.status.is_final:
            raise ApplicationError(
                f"subscription already {self._state.status.value}", type=SUBSCRIPTION_ENDED
            )

    def _signup_decided(self) -> bool:
        state = self._state
        return state.periods_charged > 0 or state.last_decline is not None or state.status.is_final

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
        return self._state

    @request_cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        if self._state.status is not SubscriptionStatus.CANCELED:
            self._refuse_if_ended()

    @workflow.update
    async def signup_outcome(self) -> SubscriptionState:
        """Answers once signing and the first charge attempt are decided (paid, declined or failed)."""
        await workflow.wait_condition(self._signup_decided)
        return self._state

    @workflow.signal
    def device_removed(self, change: DeviceChange) -> None:
        device_group.remove(self._state, change.device_id)
        self._visibility.publish(self._state)

    @workflow.signal
    def device_added(self, change: DeviceChange) -> None:
        device_group.add(self._state, change.device_id)
        self._visibility.publish(self._state)

    @workflow.update
    def change_devices(self, request: DeviceChangeRequest) -> SubscriptionState:
        for device_id in request.remove:
            device_group.remove(self._state, device_id)
        for device_id in request.add:
            device_group.add(self._state, device_id)
        self._visibility.publish(self._state)
        return self._state

    @change_devices.validator
    def _validate_device_change(self, request: DeviceChangeRequest) -> None:
        self._refuse_if_ended()
        max_devices = self._signed.max_devices if self._signed else 0
        device_group.refuse_invalid_change(self._state, request, max_devices=max_devices)

    @workflow.signal
    def replace_agreement(self, replacement: AgreementReplacement) -> None:
        if not self._state.status.is_final:
            self._pending_token = replacement.agreement_token

    @workflow.query
    def state(self) -> SubscriptionState:
        return self._state
