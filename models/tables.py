"""Every table, imported once so Alembic and tests see the whole metadata. Never import from workflows."""

from models.catalog import Device, Product
from models.contract import ChargeAttempt, ChargePlan, Contract
from models.entitlement import ContractEvent, Entitlement
from models.idempotency import IdempotencyRecord
from models.outbox import OutboxEvent
from models.voucher import Voucher, VoucherClaim, VoucherHolding, VoucherPush
from models.webhook import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ChargeAttempt",
    "ChargePlan",
    "Contract",
    "ContractEvent",
    "Device",
    "Entitlement",
    "IdempotencyRecord",
    "OutboxEvent",
    "Product",
    "Voucher",
    "VoucherClaim",
    "VoucherHolding",
    "VoucherPush",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
