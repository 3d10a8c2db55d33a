"""Vouchers over HTTP: operator configuration (admin token) and client access (user token).

Every refusal of the voucher domain (`vouchers.errors`) becomes a problem+json answer with a stable
`type` and the domain's `code`; `voucher_problem` is public so the signup route can map VoucherNotUsable."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import structlog
from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from temporalio.service import RPCError

from api import idempotency
from api.auth import AdminDep, UserDep
from api.deps import SessionsDep, SettingsDep, TemporalDep
from api.problems import (
    COMMON_RESPONSES,
    IDEMPOTENCY_KEY_REUSED,
    TEMPORAL_UNAVAILABLE,
    FieldError,
    Problem,
    ProblemType,
    problem_responses,
)
from api.routes.subscriptions import REPLAYED_HEADER
from api.services.voucher_lifecycle import signal_terminated, start_lifecycle
from infra.db import SessionFactory, transaction
from models.voucher import Voucher, VoucherStatus
from vouchers import admin, claims, offers, stock, transitions
from vouchers.errors import (
    IdempotencyKeyReused,
    InvalidVoucher,
    VoucherError,
    VoucherNotFound,
    VoucherNotUsable,
)
from vouchers.schemas import (
    ClaimList,
    ClaimPublic,
    TerminateRequest,
    VoucherCreate,
    VoucherList,
    VoucherOffer,
    VoucherOffers,
    VoucherPatch,
    VoucherPublic,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")

router = APIRouter(responses=COMMON_RESPONSES)

INVALID_VOUCHER = ProblemType("invalid-voucher", "Invalid voucher definition", 422)
VOUCHER_NOT_FOUND = ProblemType("voucher-not-found", "Voucher not found", 404)
VOUCHER_STATE_CONFLICT = ProblemType("voucher-state-conflict", "Not allowed in the voucher's state", 409)
VOUCHER_SOLD_OUT = ProblemType("voucher-sold-out", "Voucher sold out", 409)
VOUCHER_CLAIM_LIMIT = ProblemType("voucher-claim-limit-reached", "Per-user claim limit reached", 409)
VOUCHER_NOT_CLAIMABLE = ProblemType("voucher-not-claimable", "Voucher cannot be claimed now", 409)
VOUCHER_NOT_OFFERED = ProblemType("voucher-not-offered", "Voucher not offered to this user", 403)
VOUCHER_NOT_USABLE = ProblemType("voucher-not-usable", "Voucher claim cannot be used", 422)

_BY_CODE: Mapping[str, ProblemType] = {
    "sold_out": VOUCHER_SOLD_OUT,
    "per_user_limit_reached": VOUCHER_CLAIM_LIMIT,
    "not_in_audience": VOUCHER_NOT_OFFERED,
    "claim_window_not_started": VOUCHER_NOT_CLAIMABLE,
    "claim_window_ended": VOUCHER_NOT_CLAIMABLE,
    "not_claimable": VOUCHER_NOT_CLAIMABLE,
}


def voucher_problem(error: VoucherError) -> Problem:
    """The problem answer for a refusal of the voucher domain."""
    if isinstance(error, InvalidVoucher):
        fields = [FieldError(field=p.field, code=p.code, message=p.message) for p in error.problems]
        first = fields[0]
        detail = f"{first.field}: {first.message}" + (
            f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
        )
        return INVALID_VOUCHER(detail, field=first.field, code=first.code, errors=fields)
    if isinstance(error, VoucherNotFound):
        return VOUCHER_NOT_FOUND(error.message, code=error.code)
    if isinstance(error, IdempotencyKeyReused):
        return IDEMPOTENCY_KEY_REUSED(error.message, field=idempotency.HEADER, code=error.code)
    if isinstance(error, VoucherNotUsable):
        return VOUCHER_NOT_USABLE(error.message, field="voucher_claim_id", code=error.code)
    return _BY_CODE.get(error.code, VOUCHER_STATE_CONFLICT)(error.message, code=error.code)


async def _in_transaction(sessions: SessionFactory, work: Callable[[Session], T]) -> T:
    """Run `work` in one transaction on the thread pool; domain refusals become problems."""

    def run() -> T:
        with transaction(sessions) as session:
            return work(session)

    try:
        return await run_in_threadpool(run)
    except VoucherError as error:
        raise voucher_problem(error) from None


def _now() -> datetime:
    return datetime.now(UTC)


async def _standing(sessions: SessionFactory, work: Callable[[Session], Voucher]) -> tuple[Voucher, int]:
    """Run `work`, then read the voucher's claims (summed over its stock stripes) in the same transaction."""

    def run(session: Session) -> tuple[Voucher, int]:
        voucher = work(session)
        return voucher, stock.claimed_count(session, voucher.id)

    return await _in_transaction(sessions, run)


# --- operator configuration ---------------------------------------------------------------------------


@router.post("/v1/vouchers", status_code=201, response_model=VoucherPublic, tags=["vouchers (admin)"])
async def create_voucher(body: VoucherCreate, _admin: AdminDep, sessions: SessionsDep) -> VoucherPublic:
    """Configure a voucher (a draft until enabled). Claim and use windows default to the validity window;
    `duration_periods` (the first N periods of a subscription) to 1, or to `value` for `free_periods`.
    Each broken rule is listed in `errors` with its field and code."""
    voucher, claimed = await _standing(sessions, lambda s: admin.create_voucher(s, request=body, now=_now()))
    return VoucherPublic.of(voucher, claimed=claimed)


@router.get("/v1/vouchers", response_model=VoucherList, tags=["vouchers (admin)"])
async def list_vouchers(
    _admin: AdminDep,
    sessions: SessionsDep,
    status: VoucherStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> VoucherList:
    """Vouchers, newest first, with counters and the funnel pushed -> claimed -> redeemed."""

    def listed(session: Session) -> list[tuple[Voucher, int]]:
        found = admin.list_vouchers(session, status=status, limit=limit, offset=offset)
        claimed = stock.claimed_counts(session, [v.id for v in found])
        return [(v, claimed[v.id]) for v in found]

    found = await _in_transaction(sessions, listed)
    return VoucherList(items=[VoucherPublic.of(v, claimed=claimed) for v, claimed in found])


@router.get("/v1/vouchers/{voucher_id}", response_model=VoucherPublic, tags=["vouchers (admin)"])
async def get_voucher(voucher_id: uuid.UUID, _admin: AdminDep, sessions: SessionsDep) -> VoucherPublic:
    """One voucher with its counters and conversion rates."""
    voucher, claimed = await _standing(sessions, lambda s: admin.get_voucher(s, voucher_id=voucher_id))
    return VoucherPublic.of(voucher, claimed=claimed)


@router.patch(
    "/v1/vouchers/{voucher_id}",
    response_model=VoucherPublic,
    responses=problem_responses(409),
    tags=["vouchers (admin)"],
)
async def update_voucher(
    voucher_id: uuid.UUID, body: VoucherPatch, _admin: AdminDep, sessions: SessionsDep
) -> VoucherPublic:
    """Change the fields sent. A draft may change anything; once enabled only `name`, `stock` (never below
    the claims already made) and `audience` may."""
    voucher, claimed = await _standing(
        sessions, lambda s: admin.update_voucher(s, voucher_id=voucher_id, patch=body, now=_now())
    )
    return VoucherPublic.of(voucher, claimed=claimed)


@router.post(
    "/v1/vouchers/{voucher_id}/enable",
    response_model=VoucherPublic,
    responses=problem_responses(409, 503),
    tags=["vouchers (admin)"],
)
async def enable_voucher(
    voucher_id: uuid.UUID, _admin: AdminDep, sessions: SessionsDep, client: TemporalDep, settings: SettingsDep
) -> VoucherPublic:
    """Enable now (`enabled`), or before its claim window (`scheduled`: the lifecycle workflow enables it
    when the window opens). Starts the voucher's lifecycle workflow `voucher-<id>`. Safe to repeat: a 503
    (workflow service down) leaves the voucher enabled, and calling again starts the workflow."""
    voucher, claimed = await _standing(
        sessions, lambda s: transitions.enable_voucher(s, voucher_id=voucher_id, now=_now())
    )
    try:
        await start_lifecycle(client, voucher=voucher, task_queue=settings.task_queue)
    except RPCError as error:
        raise TEMPORAL_UNAVAILABLE(
            f"the voucher is {voucher.status.value} but its lifecycle workflow did not start "
            f"({error.message}); call enable again",
            code="lifecycle_not_started",
        ) from None
    return VoucherPublic.of(voucher, claimed=claimed)


@router.post(
    "/v1/vouchers/{voucher_id}/terminate",
    response_model=VoucherPublic,
    responses=problem_responses(409),
    tags=["vouchers (admin)"],
)
async def terminate_voucher(
    voucher_id: uuid.UUID,
    _admin: AdminDep,
    sessions: SessionsDep,
    client: TemporalDep,
    body: Annotated[TerminateRequest | None, Body()] = None,
) -> VoucherPublic:
    """Stop the voucher: nobody can claim it any more and its unused claims expire at once (claims held by
    a signup in progress follow that signup). Terminating twice changes nothing."""
    reason = (body or TerminateRequest()).reason
    voucher, claimed = await _standing(
        sessions, lambda s: transitions.terminate_voucher(s, voucher_id=voucher_id, now=_now(), reason=reason)
    )
    try:
        await signal_terminated(client, voucher_id=str(voucher_id), reason=reason)
    except RPCError as error:
        # The database already says terminated; the workflow reads that at its next step.
        log.warning("voucher workflow not signalled", voucher_id=str(voucher_id), error=error.message)
    return VoucherPublic.of(voucher, claimed=claimed)


# --- client access ------------------------------------------------------------------------------------


class _ClaimTarget(BaseModel):
    voucher_id: uuid.UUID


@router.get("/v1/me/voucher-offers", response_model=VoucherOffers, tags=["vouchers (user)"])
async def voucher_offers(user: UserDep, sessions: SessionsDep) -> VoucherOffers:
    """The claim pop-up's page data: the vouchers this user may claim now (enabled, inside the claim window,
    stock left, in the audience, under the per-user limit). Showing them counts as a push."""
    now = _now()
    found = await _in_transaction(sessions, lambda s: offers.offers_for(s, user_id=user.user_id, now=now))
    return VoucherOffers(
        user_id=user.user_id,
        generated_at=now,
        offers=[VoucherOffer.of(o.voucher, claims_left=o.claims_left, claimed=o.claimed) for o in found],
    )


@router.post(
    "/v1/vouchers/{voucher_id}/claims",
    status_code=201,
    response_model=ClaimPublic,
    responses=problem_responses(409),
    tags=["vouchers (user)"],
)
async def claim_voucher(
    voucher_id: uuid.UUID, key: idempotency.IdempotencyKey, user: UserDep, sessions: SessionsDep
) -> JSONResponse:
    """Claim one. Exact under any concurrency: never more claims than stock, never more per user than the
    limit. A retry with the same `Idempotency-Key` returns the same claim (header `Idempotent-Replayed`)."""
    request = claims.IdempotentRequest(key, idempotency.request_hash(_ClaimTarget(voucher_id=voucher_id)))

    claimed = await _in_transaction(
        sessions,
        lambda s: claims.claim_voucher(
            s, voucher_id=voucher_id, user_id=user.user_id, now=_now(), idempotency=request
        ),
    )
    public = ClaimPublic.of(claimed.claim, claimed.voucher)
    return JSONResponse(
        public.model_dump(mode="json"),
        status_code=201,
        headers=None if claimed.created else {REPLAYED_HEADER: "true"},
    )


@router.get("/v1/me/voucher-claims", response_model=ClaimList, tags=["vouchers (user)"])
async def my_claims(user: UserDep, sessions: SessionsDep) -> ClaimList:
    """The user's claims, newest first: `claimed` (usable in its use window), `used` or `expired`."""
    found = await _in_transaction(sessions, lambda s: claims.claims_of(s, user_id=user.user_id))
    return ClaimList(items=[ClaimPublic.of(claim, voucher) for claim, voucher in found])
