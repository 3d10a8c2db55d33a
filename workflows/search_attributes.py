"""Custom search attributes, defined once: the workflow upserts them, the dev stack and tests register them,
operators query them (`temporal workflow list --query "SubscriptionStatus='past_due'"`)."""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey

SUBSCRIPTION_STATUS = SearchAttributeKey.for_keyword("SubscriptionStatus")
USER_ID = SearchAttributeKey.for_keyword("UserId")
PRODUCT_ID = SearchAttributeKey.for_keyword("ProductId")
DEVICE_COUNT = SearchAttributeKey.for_int("DeviceCount")
NEXT_CHARGE_AT = SearchAttributeKey.for_datetime("NextChargeAt")
PAID_THROUGH = SearchAttributeKey.for_datetime("PaidThrough")
# What a subscription's workflow indexes about itself.
SUBSCRIPTION_KEYS: tuple[SearchAttributeKey[Any], ...] = (
    SUBSCRIPTION_STATUS,
    USER_ID,
    PRODUCT_ID,
    DEVICE_COUNT,
    NEXT_CHARGE_AT,
    PAID_THROUGH,
)
VOUCHER_STATUS = SearchAttributeKey.for_keyword("VoucherStatus")
VOUCHER_ID = SearchAttributeKey.for_keyword("VoucherId")

# name -> type as `temporal server start-dev --search-attribute NAME=TYPE` spells it.
ALL: dict[str, str] = {
    "SubscriptionStatus": "Keyword",
    "UserId": "Keyword",
    "ProductId": "Keyword",
    "DeviceCount": "Int",
    "NextChargeAt": "Datetime",
    "PaidThrough": "Datetime",
    "VoucherStatus": "Keyword",
    "VoucherId": "Keyword",
}


def dev_server_flags() -> list[str]:
    flags: list[str] = []
    for name, kind in ALL.items():
        flags += ["--search-attribute", f"{name}={kind}"]
    return flags
