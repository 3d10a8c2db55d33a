"""The voucher lifecycle on durable timers (time-skipping server): open the claim window, expire unused
claims at the use window's end, terminate at the validity's end; search attributes follow the status."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from api.services.voucher_lifecycle import LifecycleHandle, signal_terminated, start_lifecycle
from infra.db import SessionFactory, transaction
from models.voucher import ClaimStatus, VoucherClaim, VoucherStatus
from tests.support.factories import make_product
from tests.vouchers.lifecycle_support import lifecycle_worker, record_history, wait_for
from tests.vouchers.support import make_voucher, reload
from vouchers.claims import claim_voucher
from vouchers.lifecycle import EXPIRE_CLAIMS, OPEN_CLAIM_WINDOW, TERMINATE_VOUCHER
from vouchers.redemption import reserve_claim
from vouchers.transitions import terminate_voucher
from workflows.search_attributes import VOUCHER_ID, VOUCHER_STATUS

DAY = timedelta(days=1)


async def search_attributes(
    handle: LifecycleHandle,
) -> tuple[str | None, str | None]:
    described = await handle.describe()
    return described.typed_search_attributes.get(VOUCHER_ID), described.typed_search_attributes.get(
        VOUCHER_STATUS
    )


def claim_status(sessions: SessionFactory, claim_id: uuid.UUID) -> tuple[ClaimStatus, uuid.UUID | None]:
    with transaction(sessions) as session:
        claim = session.get(VoucherClaim, claim_id)
    assert claim is not None
    return claim.status, claim.contract_id


async def test_a_scheduled_voucher_opens_expires_and_terminates_on_time(
    time_skipping_env: WorkflowEnvironment, sessions: SessionFactory, task_queue: str
) -> None:
    env = time_skipping_env
    t0 = await env.get_current_time()
    product = make_product(sessions)
    voucher = make_voucher(
        sessions,
        now=t0,
        valid_from=t0,
        valid_until=t0 + 30 * DAY,
        claim_starts_at=t0 + DAY,
        claim_ends_at=t0 + 10 * DAY,
        use_ends_at=t0 + 20 * DAY,
    )
    assert voucher.status is VoucherStatus.SCHEDULED
    async with lifecycle_worker(env, sessions=sessions, task_queue=task_queue):
        handle = await start_lifecycle(env.client, voucher=voucher, task_queue=task_queue)
        state = await wait_for(handle, lambda s: s.next_step == OPEN_CLAIM_WINDOW)
        assert state.status == "scheduled" and state.next_step_at == t0 + DAY
        assert await search_attributes(handle) == (str(voucher.id), "scheduled")

        await env.sleep(DAY + timedelta(minutes=1))
        await wait_for(handle, lambda s: s.status == "enabled" and s.next_step == EXPIRE_CLAIMS)
        assert await search_attributes(handle) == (str(voucher.id), "enabled")
        now = await env.get_current_time()
        with transaction(sessions) as session:
            idle = claim_voucher(session, voucher_id=voucher.id, user_id="alice", now=now).claim
            held = claim_voucher(session, voucher_id=voucher.id, user_id="bob", now=now).claim
            contract = uuid.uuid4()
            reserve_claim(
                session, claim_id=held.id, user_id="bob", product_id=product, contract_id=contract, now=now
            )

        await env.sleep(19 * DAY)
        state = await wait_for(handle, lambda s: s.next_step == TERMINATE_VOUCHER)
        assert state.expired_claims == 1
        # The reserved claim waits for its subscription: its first charge may still succeed.
        assert claim_status(sessions, idle.id) == (ClaimStatus.EXPIRED, None)
        assert claim_status(sessions, held.id) == (ClaimStatus.CLAIMED, contract)

        final = await handle.result()
    await record_history(handle, "scheduled-expire-terminate")
    assert (final.status, final.next_step) == ("terminated", None)
    assert await search_attributes(handle) == (str(voucher.id), "terminated")
    ended = reload(sessions, voucher.id)
    assert ended.status is VoucherStatus.TERMINATED
    assert (ended.terminated_at, ended.termination_reason) == (t0 + 30 * DAY, "validity ended")


async def test_a_terminate_signal_ends_the_lifecycle_early(
    time_skipping_env: WorkflowEnvironment, sessions: SessionFactory, task_queue: str
) -> None:
    env = time_skipping_env
    t0 = await env.get_current_time()
    voucher = make_voucher(sessions, now=t0, valid_from=t0 - DAY, valid_until=t0 + 30 * DAY)
    assert voucher.status is VoucherStatus.ENABLED
    with transaction(sessions) as session:
        claim = claim_voucher(session, voucher_id=voucher.id, user_id="alice", now=t0).claim
    async with lifecycle_worker(env, sessions=sessions, task_queue=task_queue):
        handle = await start_lifecycle(env.client, voucher=voucher, task_queue=task_queue)
        await wait_for(handle, lambda s: s.next_step == EXPIRE_CLAIMS)
        # What the API does: terminate in the database, then tell the workflow.
        with transaction(sessions) as session:
            terminate_voucher(session, voucher_id=voucher.id, now=t0, reason="budget spent")
        assert await signal_terminated(env.client, voucher_id=str(voucher.id), reason="budget spent")
        final = await handle.result()
    await record_history(handle, "terminate-signal")
    assert final.status == "terminated"
    assert await search_attributes(handle) == (str(voucher.id), "terminated")
    assert claim_status(sessions, claim.id) == (ClaimStatus.EXPIRED, None)
    assert reload(sessions, voucher.id).termination_reason == "budget spent"
    assert not await signal_terminated(env.client, voucher_id=str(uuid.uuid4()), reason="none")
