"""Status vocabularies shared by tables, messages and the API (no SQLModel import: workflow-safe)."""

from enum import StrEnum


class ProductStatus(StrEnum):
    ACTIVE = "active"
    DISCONTINUED = "discontinued"


class DeviceStatus(StrEnum):
    BOUND = "bound"
    UNBOUND = "unbound"
    DELETED = "deleted"


class SubscriptionStatus(StrEnum):
    SIGNING = "signing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELING = "canceling"
    CANCELED = "canceled"
    TERMINATED = "terminated"
    ENDED = "ended"  # no device left in the group
    FAILED = "failed"  # never signed, or the first period never paid

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = {
    SubscriptionStatus.CANCELED,
    SubscriptionStatus.TERMINATED,
    SubscriptionStatus.ENDED,
    SubscriptionStatus.FAILED,
}


class PlanStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    VOID = "void"


class AttemptStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    DECLINED = "declined"


class EntitlementStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class CancelMode(StrEnum):
    AT_PERIOD_END = "at_period_end"
    IMMEDIATELY = "immediately"


class DeclineKind(StrEnum):
    SOFT = "soft"  # retryable later: insufficient funds, temporary limit
    HARD = "hard"  # never retry: agreement revoked, card closed


class SettleKind(StrEnum):
    """What one charge attempt at one period came to."""

    PAID = "paid"
    DECLINED = "declined"
    NOT_VERIFIED = "not_verified"
