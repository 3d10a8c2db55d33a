"""The voucher lifecycle's activities, bound to a session factory. Each is one idempotent transaction:
the workflow may run it again after a timeout or a worker crash and nothing changes twice."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from infra.db import SessionFactory, transaction
from models.voucher import Voucher, VoucherStatus
from vouchers.admin import get_voucher
from vouchers.errors import VoucherNotFound
from vouchers.lifecycle import (
    EXPIRE_CLAIMS,
    OPEN_CLAIM_WINDOW,
    TERMINATE_VOUCHER,
    VoucherStepInput,
    VoucherStepResult,
)
from vouchers.transitions import expire_claims, open_claim_window, terminate_voucher


def _result(voucher: Voucher, expired_claims: int = 0) -> VoucherStepResult:
    return VoucherStepResult(
        status=voucher.status.value,
        terminated=voucher.status is VoucherStatus.TERMINATED,
        expired_claims=expired_claims,
    )


class VoucherActivities:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @contextmanager
    def _step(self) -> Iterator[Session]:
        try:
            with transaction(self._sessions) as session:
                yield session
        except VoucherNotFound as missing:
            # Vouchers are never deleted: a missing one is a bad input, and retrying cannot help.
            raise ApplicationError(missing.message, type="VoucherNotFound", non_retryable=True) from missing

    @activity.defn(name=OPEN_CLAIM_WINDOW)
    def open_claim_window(self, step: VoucherStepInput) -> VoucherStepResult:
        with self._step() as session:
            return _result(open_claim_window(session, voucher_id=uuid.UUID(step.voucher_id), now=step.at))

    @activity.defn(name=EXPIRE_CLAIMS)
    def expire_claims(self, step: VoucherStepInput) -> VoucherStepResult:
        with self._step() as session:
            voucher_id = uuid.UUID(step.voucher_id)
            expired = expire_claims(session, voucher_id=voucher_id, now=step.at)
            return _result(get_voucher(session, voucher_id=voucher_id), expired)

    @activity.defn(name=TERMINATE_VOUCHER)
    def terminate(self, step: VoucherStepInput) -> VoucherStepResult:
        with self._step() as session:
            voucher = terminate_voucher(
                session, voucher_id=uuid.UUID(step.voucher_id), now=step.at, reason=step.reason
            )
            return _result(voucher)

    def all(self) -> list[Callable[..., Any]]:
        return [self.open_claim_window, self.expire_claims, self.terminate]
