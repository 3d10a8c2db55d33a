"""Signup: validate in the database, reserve the Idempotency-Key, then start the subscription workflow and
answer with the outcome of signing and the first charge attempt (see `signup_outcome`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from api import idempotency
from api.schemas.subscriptions import SubscriptionCreate
from api.services.errors import refusal_problem
from api.services.signup_outcome import Answer, ProductBrief, run_signup
from contracts.signup import send_signup_reads, validate_signup
from infra.db import SessionFactory, driver_connection, reads_alone, transaction
from models.catalog import Product
from models.messages import SignContractInput, SignupRequest
from models.signup import ProductTerms, SignupFacts, SignupRefused, refuse_if_held

SCOPE = "subscriptions"


def signup_request(*, user_id: str, body: SubscriptionCreate, contract_id: str) -> SignupRequest:
    """The signup as the workflow will carry it; validation signs it at `now` to check it."""
    return SignupRequest(
        contract_id=contract_id,
        user_id=user_id,
        product_id=str(body.product_id),
        device_ids=tuple(body.device_ids),
        agreement_token=body.payment.agreement_token,
        timezone=body.timezone,
        voucher_claim_id=str(body.voucher_claim_id) if body.voucher_claim_id else None,
        billing_day=body.billing_day,
    )


def _validated(session: Session, request: SignContractInput, facts: SignupFacts) -> ProductTerms:
    try:
        product = validate_signup(session, request, facts)
        refuse_if_held(facts.holder, resource_type=product.resource_type)
    except SignupRefused as refused:
        raise refusal_problem(refused) from None
    return product


def product_brief(*, sessions: SessionFactory, product_id: uuid.UUID) -> ProductBrief:
    with transaction(sessions) as session:
        product = session.get(Product, product_id)
        name = product.name if product else str(product_id)
        return ProductBrief(product_id, name, product.resource_type if product else "")


async def subscribe(
    *,
    sessions: SessionFactory,
    client: Client,
    task_queue: str,
    user_id: str,
    key: str,
    body: SubscriptionCreate,
) -> tuple[Answer, bool]:
    """The answer to a signup request, and whether it replays a stored one.

    Order matters: an earlier use of the key is looked up first (a replay answers even if the catalog has
    changed since); a new request is validated before its key is reserved, so a refused body leaves no row;
    the reservation commits before the workflow starts, so a concurrent twin attaches to the same one."""
    digest = idempotency.request_hash(body)
    request = signup_request(user_id=user_id, body=body, contract_id=str(uuid.uuid4()))

    def find_or_reserve() -> tuple[idempotency.Reservation, ProductBrief | None]:
        """An earlier use of the key; else validation, then the key's reservation. The look-up and
        validation's reads go in one round trip, the reservation commits on its own."""
        checked = request.signing(datetime.now(UTC))
        with transaction(sessions) as session:
            db = driver_connection(session)
            with reads_alone(db):
                found = idempotency.send_find(db, scope=SCOPE, user_id=user_id, key=key)
                try:
                    collect = send_signup_reads(db, checked)
                except SignupRefused as refused:
                    raise refusal_problem(refused) from None
            earlier = idempotency.earlier_of(found, digest)
            if earlier is not None:
                return earlier, None
            product = _validated(session, checked, collect())
            reservation = idempotency.reserve(
                session, scope=SCOPE, user_id=user_id, key=key, digest=digest, resource_id=request.contract_id
            )
            return reservation, ProductBrief(product.id, product.name, product.resource_type)

    reservation, product = await run_in_threadpool(find_or_reserve)
    if reservation.response_status is not None:
        # A replay, or a twin that reserved the key first and has answered.
        return Answer(reservation.response_status, reservation.response_body), True
    if product is None:
        # No stored answer: re-attach (after a crash or a timeout, or beside a concurrent twin).
        product = await run_in_threadpool(
            lambda: product_brief(sessions=sessions, product_id=body.product_id)
        )

    if reservation.resource_id != request.contract_id:
        # A twin reserved the key first: attach to its contract.
        request = request.model_copy(update={"contract_id": reservation.resource_id})
    answer = await run_signup(client=client, task_queue=task_queue, request=request, product=product)
    record_id = reservation.record_id
    await run_in_threadpool(
        lambda: idempotency.store_answer(
            sessions, record_id=record_id, status=answer.status, body=answer.body
        )
    )
    return answer, False
