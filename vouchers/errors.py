"""Why a voucher request is refused, as machine-readable codes the API turns into problem+json."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    field: str
    code: str
    message: str


class VoucherError(Exception):
    """Base of every refusal: a stable `code` for clients, a sentence for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidVoucher(VoucherError):
    """The definition breaks one or more rules; every broken rule is listed."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("invalid_voucher", "; ".join(p.message for p in problems))
        self.problems = problems


class VoucherNotFound(VoucherError):
    def __init__(self, what: str = "voucher") -> None:
        super().__init__(f"{what}_not_found", f"no such {what}")


class VoucherConflict(VoucherError):
    """The request is valid but the voucher's current state forbids it (locked field, terminated...)."""


class NotClaimable(VoucherError):
    """This user cannot claim this voucher now (sold out, outside the window, limit reached...)."""


class VoucherNotUsable(VoucherError):
    """A claim cannot be applied to this subscription (wrong owner, product, window, state...)."""


class IdempotencyKeyReused(VoucherError):
    def __init__(self) -> None:
        super().__init__(
            "idempotency_key_reused", "this Idempotency-Key was already used with a different request"
        )
