"""Path parameter types of the routes; the body fields they share with the voucher domain live in
`models.fields`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from models.fields import DEVICE_ID_PATTERN

DevicePath = Annotated[str, Path(min_length=1, max_length=100, pattern=DEVICE_ID_PATTERN)]
