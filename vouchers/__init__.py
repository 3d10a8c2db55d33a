"""The voucher domain (seed CN112346628A): definition rules, claims, offers, redemption and expiry.

Kept import-free: the lifecycle workflow imports `vouchers.lifecycle`, which must not drag SQLModel in."""
