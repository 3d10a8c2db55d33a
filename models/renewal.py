"""Pure billing rules (claims 3, 4, 7): verify a renewal against live data and price the period.

I/O-free: activities call them over the facts they have read, and tests need no server."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from models.money import prorate_minor
from models.schedule import Share


class VerificationFailure(StrEnum):
    PRODUCT_DISCONTINUED = "product_discontinued"
    CURRENCY_CHANGED = "currency_changed"
    AGREEMENT_INACTIVE = "agreement_inactive"
    NO_DEVICES = "no_devices"
    TOO_MANY_DEVICES = "too_many_devices"
    AMOUNT_EXCEEDS_AGREEMENT_CAP = "amount_exceeds_agreement_cap"


@dataclass(frozen=True)
class LiveProduct:
    status: str
    unit_price_minor: int
    currency: str
    max_devices: int


@dataclass(frozen=True)
class LiveDevice:
    device_id: str
    owner_user_id: str
    status: str


@dataclass(frozen=True)
class ContractTerms:
    user_id: str
    currency: str
    agreement_status: str
    agreement_cap_minor: int


@dataclass(frozen=True)
class PlanPrice:
    device_ids: tuple[str, ...]
    unit_price_minor: int
    gross_minor: int
    discount_minor: int
    amount_minor: int

    def discounted(self, discount_minor: int) -> PlanPrice:
        """The same plan with a discount off its gross (a prorated gross too), never below zero."""
        discount = max(0, min(discount_minor, self.gross_minor))
        return PlanPrice(
            device_ids=self.device_ids,
            unit_price_minor=self.unit_price_minor,
            gross_minor=self.gross_minor,
            discount_minor=discount,
            amount_minor=self.gross_minor - discount,
        )


@dataclass(frozen=True)
class Verification:
    plan: PlanPrice | None
    failure: VerificationFailure | None
    dropped_device_ids: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.failure is None


def qualifying_devices(group: tuple[str, ...], live: list[LiveDevice], owner: str) -> tuple[str, ...]:
    """Devices of the group still bound to the contract's owner, in group order (claim 7)."""
    by_id = {d.device_id: d for d in live}
    return tuple(
        device_id
        for device_id in group
        if (d := by_id.get(device_id)) is not None and d.status == "bound" and d.owner_user_id == owner
    )


def price_plan(device_ids: tuple[str, ...], unit_price_minor: int, discount_minor: int = 0) -> PlanPrice:
    gross = unit_price_minor * len(device_ids)
    return PlanPrice(device_ids, unit_price_minor, gross, 0, gross).discounted(discount_minor)


def price_first_plan(device_ids: tuple[str, ...], unit_price_minor: int, share: Share | None) -> PlanPrice:
    """Seed claim 2's plan: the group at the signed price, for the share of a full period that the first
    period is (None: all of it). The group's gross is prorated once, half-up to a whole minor unit; the
    unit price stays the full period's."""
    plan = price_plan(device_ids, unit_price_minor)
    if share is None:
        return plan
    gross = prorate_minor(plan.gross_minor, share.charged, share.full)
    return PlanPrice(device_ids, unit_price_minor, gross, 0, gross)


def verify_renewal(
    *,
    terms: ContractTerms,
    product: LiveProduct,
    group: tuple[str, ...],
    devices: list[LiveDevice],
    discount_minor: int = 0,
) -> Verification:
    """Refresh the plan from live product and device data and check it may be charged (claims 3-4)."""
    if product.status != "active":
        return Verification(None, VerificationFailure.PRODUCT_DISCONTINUED)
    if product.currency != terms.currency:
        return Verification(None, VerificationFailure.CURRENCY_CHANGED)
    if terms.agreement_status != "active":
        return Verification(None, VerificationFailure.AGREEMENT_INACTIVE)
    kept = qualifying_devices(group, devices, terms.user_id)
    dropped = tuple(d for d in group if d not in kept)
    if not kept:
        return Verification(None, VerificationFailure.NO_DEVICES, dropped)
    if len(kept) > product.max_devices:
        return Verification(None, VerificationFailure.TOO_MANY_DEVICES, dropped)
    plan = price_plan(kept, product.unit_price_minor, discount_minor)
    if plan.amount_minor > terms.agreement_cap_minor:
        return Verification(plan, VerificationFailure.AMOUNT_EXCEEDS_AGREEMENT_CAP, dropped)
    return Verification(plan, None, dropped)


def agreement_cap_minor(unit_price_minor: int, max_devices: int) -> int:
    """The single-charge cap asked for at signing: a full group at up to twice today's price.

    Periodic-deduction agreements cap each charge; a renewal above the cap fails verification."""
    return 2 * unit_price_minor * max_devices
