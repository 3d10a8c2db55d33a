"""Pure node rules: what a claim is worth in a period, whether it may be used, why a claim was refused.

No I/O: the store functions read (and lock) the rows, these decide."""

from __future__ import annotations

import uuid
from datetime import datetime

from models.catalog import Product
from models.voucher import ClaimStatus, Voucher, VoucherClaim, VoucherStatus, VoucherType
from vouchers.errors import NotClaimable, VoucherError, VoucherNotFound, VoucherNotUsable


def discount_minor(*, voucher: Voucher, period: int, gross_minor: int) -> int:
    """The discount of one period, never more than its gross and zero outside the first N periods.

    Percentages round down (the user pays the odd minor unit); free_periods waives the whole period,
    so the paid-through time grows at no charge."""
    if gross_minor <= 0 or not 0 <= period < voucher.duration_periods:
        return 0
    if voucher.type is VoucherType.PERCENT_OFF:
        return gross_minor * voucher.value // 100
    if voucher.type is VoucherType.AMOUNT_OFF:
        return min(voucher.value, gross_minor)
    return gross_minor


def _not_usable(code: str, message: str) -> VoucherNotUsable:
    return VoucherNotUsable(code, message)


def usability_problem(
    *,
    voucher: Voucher,
    claim: VoucherClaim,
    product: Product | None,
    user_id: str,
    contract_id: uuid.UUID | None,
    now: datetime,
) -> VoucherNotUsable | None:
    """Why this user's claim cannot pay towards this product for this contract now (None: it can).

    A claim already reserved by `contract_id` stays usable for it, so a retried signing passes."""
    if claim.user_id != user_id:
        # Someone else's claim is reported as unknown: its existence is not ours to reveal.
        return _not_usable("claim_not_found", "no such voucher claim")
    if claim.status is ClaimStatus.USED:
        return _not_usable("claim_used", "this voucher claim was already used")
    if claim.status is ClaimStatus.EXPIRED:
        return _not_usable("claim_expired", "this voucher claim has expired")
    if claim.contract_id is not None and claim.contract_id != contract_id:
        return _not_usable("claim_reserved", "this voucher claim is held by another subscription")
    if voucher.status is VoucherStatus.TERMINATED:
        return _not_usable("voucher_terminated", "the voucher was terminated")
    if now < voucher.use_starts_at:
        return _not_usable("use_window_not_started", f"usable from {voucher.use_starts_at.isoformat()}")
    if now >= voucher.use_ends_at:
        return _not_usable("use_window_ended", f"usable until {voucher.use_ends_at.isoformat()}")
    if product is None:
        return _not_usable("unknown_product", "unknown product")
    covered = (
        product.id in voucher.product_ids
        if voucher.product_ids
        else product.resource_type == voucher.resource_type
    )
    if not covered:
        return _not_usable("product_not_covered", "the voucher does not apply to this product")
    if voucher.type is VoucherType.AMOUNT_OFF and product.currency != voucher.currency:
        return _not_usable("currency_mismatch", f"the voucher is in {voucher.currency}, the product not")
    return None


def claim_refusal(
    voucher: Voucher | None, *, user_id: str, claims_held: int, claimed: int, now: datetime
) -> VoucherError | None:
    """Why this user cannot claim the voucher now (None: nothing stands in the way, try the claim)."""
    if voucher is None or voucher.status is VoucherStatus.DRAFT:
        # Drafts are invisible to users.
        return VoucherNotFound()
    if voucher.status is VoucherStatus.TERMINATED:
        return NotClaimable("voucher_terminated", "the voucher was terminated")
    if voucher.audience and user_id not in voucher.audience:
        return NotClaimable("not_in_audience", "this voucher is not offered to you")
    if now < voucher.claim_starts_at or voucher.status is VoucherStatus.SCHEDULED:
        return NotClaimable(
            "claim_window_not_started", f"claimable from {voucher.claim_starts_at.isoformat()}"
        )
    if now >= voucher.claim_ends_at:
        return NotClaimable("claim_window_ended", f"claimable until {voucher.claim_ends_at.isoformat()}")
    if claimed >= voucher.stock:
        return NotClaimable("sold_out", "no vouchers left")
    if claims_held >= voucher.per_user_limit:
        return NotClaimable(
            "per_user_limit_reached", f"you already hold {claims_held} of at most {voucher.per_user_limit}"
        )
    return None
