"""The body a receiver gets: the event's envelope as JSON, built once and signed as sent."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    created_at: datetime
    subscription_id: uuid.UUID | None
    voucher_id: uuid.UUID | None
    user_id: str
    sequence: int | None
    data: dict[str, Any]

    def body(self) -> bytes:
        document = {
            "id": self.id,
            "type": self.type,
            "created_at": self.created_at.isoformat(),
            "subscription_id": str(self.subscription_id) if self.subscription_id else None,
            "voucher_id": str(self.voucher_id) if self.voucher_id else None,
            "user_id": self.user_id,
            "sequence": self.sequence,
            "data": self.data,
        }
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
