"""Voucher tests reuse the API test fixtures: the app over the test's database and the dev server's client,
its settings, and an httpx client on it (tests/api/conftest.py)."""

from __future__ import annotations

from tests.api.conftest import app, engine, http, settings

__all__ = ["app", "engine", "http", "settings"]
