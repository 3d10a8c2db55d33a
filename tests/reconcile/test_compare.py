"""The pure comparison over hand-built books: clean books are clean, and every kind of discrepancy is
found (together with exactly the other kinds the same fault implies)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from gateway.protocol import ChargeStatus
from models.enums import AttemptStatus, EntitlementStatus, PlanStatus
from reconcile.books import Books, CounterReading, Entitlement
from reconcile.compare import find_discrepancies
from reconcile.findings import Kind
from tests.reconcile.books import (
    CONTRACT,
    CYCLE,
    PRICE,
    attempt_for,
    charge,
    clean_books,
    edit_entitlement,
    plan,
    start,
    without,
)


def kinds(books: Books) -> set[Kind]:
    return {d.kind for d in find_discrepancies(books)}


def test_clean_books_are_clean() -> None:
    assert find_discrepancies(clean_books()) == []
    assert find_discrepancies(Books()) == []


def test_declines_before_a_success_are_clean() -> None:
    books = clean_books()
    declined = charge(3, 1, status=ChargeStatus.DECLINED)
    paid = charge(3, 2)
    books = replace(
        books,
        gateway=(*books.gateway, declined, paid),
        attempts=(*books.attempts, attempt_for(declined), attempt_for(paid)),
        plans=(*books.plans, plan(3, ("cam-a", "cam-b"))),
        contracts=(replace(books.contracts[0], paid_through=start(4)),),
    )
    books = edit_entitlement(
        edit_entitlement(books, "cam-a", valid_until=start(4)), "cam-b", valid_until=start(4)
    )
    assert find_discrepancies(books) == []


def test_removed_device_keeps_its_entitlement_to_the_end_of_its_last_paid_period() -> None:
    books = clean_books(periods=3)
    books = replace(
        books,
        plans=(*books.plans[:2], plan(2, ("cam-a",))),
        gateway=(*books.gateway[:2], charge(2, amount=PRICE)),
    )
    books = replace(books, attempts=tuple(attempt_for(c) for c in books.gateway))
    removed = edit_entitlement(books, "cam-b", valid_until=start(2), status=EntitlementStatus.REVOKED)
    assert find_discrepancies(removed) == []
    assert kinds(books) == {Kind.ENTITLEMENT_WITHOUT_CHARGE}  # still entitled through period 2


def test_immediate_cancel_may_cut_the_last_paid_period_short() -> None:
    books = clean_books()
    cut = start(2) + timedelta(days=3)
    for device in ("cam-a", "cam-b"):
        books = edit_entitlement(books, device, valid_until=cut, status=EntitlementStatus.REVOKED)
    assert find_discrepancies(books) == []


def test_gateway_charge_without_attempt() -> None:
    books = clean_books()
    deleted = replace(books, attempts=without(books.attempts, 1))
    found = find_discrepancies(deleted)
    assert {d.kind for d in found} == {Kind.CHARGE_WITHOUT_ATTEMPT, Kind.PLAN_PAID_WITHOUT_CHARGE}
    orphan = next(d for d in found if d.kind is Kind.CHARGE_WITHOUT_ATTEMPT)
    assert (orphan.contract_id, orphan.period, orphan.subject) == (
        CONTRACT,
        1,
        books.gateway[1].idempotency_key,
    )


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ({"amount_minor": 1999}, "gateway charged 1999 CNY, our attempt is for 2000 CNY"),
        ({"currency": "USD"}, "gateway charged 2000 USD"),
        ({"status": ChargeStatus.DECLINED}, "gateway declined, our attempt succeeded"),
        ({"charge_id": "ch_other"}, "gateway charge ch_other, our attempt records ch_p1a1"),
    ],
)
def test_gateway_charge_that_differs_from_our_attempt(edit: dict[str, object], words: str) -> None:
    books = clean_books()
    edited = replace(books, gateway=(books.gateway[0], replace(books.gateway[1], **edit), books.gateway[2]))  # type: ignore[arg-type]
    [found] = find_discrepancies(edited)
    assert (found.kind, found.period) == (Kind.CHARGE_MISMATCH, 1)
    assert words in found.detail


def test_pending_attempt_the_gateway_charged_is_reported_unless_still_in_flight() -> None:
    books = clean_books(periods=2)
    pending = replace(books.attempts[1], status=AttemptStatus.PENDING, gateway_charge_id=None)
    books = replace(
        books,
        attempts=(books.attempts[0], pending),
        plans=(books.plans[0], replace(books.plans[1], status=PlanStatus.PENDING)),
        contracts=(replace(books.contracts[0], paid_through=start(1)),),
    )
    books = edit_entitlement(
        edit_entitlement(books, "cam-a", valid_until=start(1)), "cam-b", valid_until=start(1)
    )
    [found] = find_discrepancies(books)
    assert found.kind is Kind.CHARGE_MISMATCH
    assert "still pending" in found.detail
    assert find_discrepancies(books, in_flight_since=pending.created_at - timedelta(seconds=1)) == []
    assert kinds(replace(books, gateway=books.gateway[:1])) == set()  # never reached the gateway: no money


def test_attempt_recorded_as_charged_that_the_gateway_never_made() -> None:
    books = clean_books()
    assert kinds(replace(books, gateway=without(books.gateway, 2))) == {Kind.ATTEMPT_WITHOUT_CHARGE}


def test_two_successful_charges_for_one_period() -> None:
    books = clean_books()
    second = charge(1, 2)
    gateway_only = replace(books, gateway=(*books.gateway, second))
    assert kinds(gateway_only) == {Kind.DUPLICATE_CHARGE, Kind.CHARGE_WITHOUT_ATTEMPT}
    both = replace(gateway_only, attempts=(*books.attempts, attempt_for(second)))
    found = [d for d in find_discrepancies(both) if d.kind is Kind.DUPLICATE_CHARGE]
    assert kinds(both) == {Kind.DUPLICATE_CHARGE, Kind.DUPLICATE_ATTEMPT}
    assert found[0].period == 1 and second.idempotency_key in found[0].subject


def test_successful_attempt_whose_plan_is_not_paid() -> None:
    books = clean_books()
    unpaid = replace(
        books, plans=(books.plans[0], replace(books.plans[1], status=PlanStatus.PENDING), books.plans[2])
    )
    assert kinds(unpaid) == {Kind.CHARGE_WITHOUT_PAID_PLAN}
    missing = replace(books, plans=without(books.plans, 1))
    assert kinds(missing) == {Kind.CHARGE_WITHOUT_PAID_PLAN}


@pytest.mark.parametrize(
    "books",
    [
        pytest.param(edit_entitlement(clean_books(), "cam-b", valid_until=start(2)), id="ends-early"),
        pytest.param(edit_entitlement(clean_books(), "cam-b", valid_from=start(1)), id="starts-late"),
        pytest.param(
            replace(clean_books(), entitlements=clean_books().entitlements[:1]),
            id="missing",
        ),
    ],
)
def test_paid_device_without_entitlement_for_the_period(books: Books) -> None:
    found = find_discrepancies(books)
    assert {d.kind for d in found} == {Kind.CHARGE_WITHOUT_ENTITLEMENT}
    assert {d.subject for d in found} == {"cam-b"}


def test_entitlement_past_the_last_paid_period() -> None:
    books = clean_books()
    extra_month = edit_entitlement(books, "cam-a", valid_until=start(3) + CYCLE)
    [found] = find_discrepancies(extra_month)
    assert (found.kind, found.subject) == (Kind.ENTITLEMENT_WITHOUT_CHARGE, "cam-a")
    stranger = Entitlement(CONTRACT, "cam-z", start(0), start(1), EntitlementStatus.ACTIVE)
    assert kinds(replace(books, entitlements=(*books.entitlements, stranger))) == {
        Kind.ENTITLEMENT_WITHOUT_CHARGE
    }


def test_paid_plan_amount_differs_from_its_charge() -> None:
    books = clean_books()
    edited = replace(
        books, plans=(books.plans[0], replace(books.plans[1], amount_minor=1500), books.plans[2])
    )
    assert kinds(edited) == {Kind.PLAN_AMOUNT_MISMATCH}


def test_paid_plan_without_any_charge_unless_nothing_was_due() -> None:
    books = clean_books()
    uncharged = replace(books, gateway=without(books.gateway, 1), attempts=without(books.attempts, 1))
    assert kinds(uncharged) == {Kind.PLAN_PAID_WITHOUT_CHARGE}
    free = replace(uncharged, plans=(books.plans[0], replace(books.plans[1], amount_minor=0), books.plans[2]))
    assert find_discrepancies(free) == []


def test_period_discounted_to_nothing_is_paid_without_a_gateway_charge() -> None:
    books = clean_books()
    voucher_paid = replace(books.attempts[1], amount_minor=0, gateway_charge_id=None)
    free = replace(
        books,
        gateway=without(books.gateway, 1),
        attempts=(books.attempts[0], voucher_paid, books.attempts[2]),
        plans=(books.plans[0], replace(books.plans[1], amount_minor=0), books.plans[2]),
    )
    assert find_discrepancies(free) == []
    # Money was due after all: the gateway should have been asked.
    assert kinds(replace(free, plans=books.plans)) == {Kind.PLAN_AMOUNT_MISMATCH}
    assert kinds(replace(free, attempts=books.attempts)) == {
        Kind.ATTEMPT_WITHOUT_CHARGE,
        Kind.PLAN_AMOUNT_MISMATCH,
    }


def test_contract_paid_through_that_disagrees_with_its_paid_plans() -> None:
    books = clean_books()
    assert kinds(replace(books, contracts=(replace(books.contracts[0], paid_through=start(4)),))) == {
        Kind.PAID_THROUGH_MISMATCH
    }
    assert kinds(replace(books, contracts=(replace(books.contracts[0], paid_through=None),))) == {
        Kind.PAID_THROUGH_MISMATCH
    }


def test_counter_that_disagrees_with_its_rows() -> None:
    books = replace(
        clean_books(), counters=(CounterReading("voucher v1", "redeemed_count", value=2, rows=1),)
    )
    [found] = find_discrepancies(books)
    assert (found.kind, found.subject) == (Kind.COUNTER_MISMATCH, "voucher v1 redeemed_count")
    assert found.detail == "counter says 2, 1 rows"


def test_findings_come_in_a_stable_order() -> None:
    books = clean_books()
    broken = replace(
        edit_entitlement(books, "cam-a", valid_until=start(9)),
        attempts=without(books.attempts, 2),
        counters=(CounterReading("voucher v1", "pushed_count", value=1, rows=0),),
    )
    found = find_discrepancies(broken)
    assert [d.kind for d in found] == [
        Kind.COUNTER_MISMATCH,  # no contract: first
        Kind.ENTITLEMENT_WITHOUT_CHARGE,  # no period: before the periods
        Kind.CHARGE_WITHOUT_ATTEMPT,  # period 2, by kind
        Kind.PLAN_PAID_WITHOUT_CHARGE,
    ]
    assert found == find_discrepancies(replace(broken, attempts=tuple(reversed(broken.attempts))))
