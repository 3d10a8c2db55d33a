"""Start and signal a voucher's lifecycle workflow, as the API does when an operator enables or
terminates one."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from models.voucher import Voucher, VoucherStatus
from vouchers.lifecycle import (
    TerminateRequest,
    VoucherLifecycleInput,
    VoucherLifecycleState,
    voucher_workflow_id,
)
from workflows.search_attributes import VOUCHER_ID, VOUCHER_STATUS
from workflows.voucher_lifecycle import VoucherLifecycleWorkflow


def lifecycle_input(voucher: Voucher) -> VoucherLifecycleInput:
    return VoucherLifecycleInput(
        voucher_id=str(voucher.id),
        status=voucher.status.value,
        scheduled=voucher.status is VoucherStatus.SCHEDULED,
        claim_starts_at=voucher.claim_starts_at,
        use_ends_at=voucher.use_ends_at,
        valid_until=voucher.valid_until,
    )


LifecycleHandle = WorkflowHandle[VoucherLifecycleWorkflow, VoucherLifecycleState]


async def start_lifecycle(client: Client, *, voucher: Voucher, task_queue: str) -> LifecycleHandle:
    """Start the voucher's workflow, or attach to the one already running (enabling twice is harmless)."""
    return await client.start_workflow(
        VoucherLifecycleWorkflow.run,
        lifecycle_input(voucher),
        id=voucher_workflow_id(str(voucher.id)),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(VOUCHER_ID, str(voucher.id)),
                SearchAttributePair(VOUCHER_STATUS, voucher.status.value),
            ]
        ),
        static_summary=f"Voucher {voucher.name}",
    )


async def signal_terminated(client: Client, *, voucher_id: str, reason: str) -> bool:
    """Tell the workflow its voucher was terminated; False when no workflow runs for it (never enabled,
    or already finished), which is fine: the database is the truth."""
    handle = client.get_workflow_handle_for(VoucherLifecycleWorkflow.run, voucher_workflow_id(voucher_id))
    try:
        await handle.signal(VoucherLifecycleWorkflow.terminate, TerminateRequest(reason=reason))
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True
