"""Where the stack listens and what it uses: flags passed by name reach the aliased fields, and the
environment's names still work."""

from __future__ import annotations

import pytest

from devstack.config import StackSettings


def test_servers_passed_by_name_are_used_instead_of_the_embedded_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("DATABASE_URL", "TEMPORAL_ADDRESS", "SANDBOX_GATEWAY_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    stack = StackSettings(
        external_database_url="postgresql://bench@127.0.0.1:6543/app",
        external_temporal_address="127.0.0.1:17233",
        sandbox_database_url="postgresql://bench@127.0.0.1:6543/sandbox",
    )
    assert stack.external_database_url == "postgresql://bench@127.0.0.1:6543/app"
    assert stack.sandbox_database_url == "postgresql://bench@127.0.0.1:6543/sandbox"
    assert stack.temporal_address == "127.0.0.1:17233"
    assert stack.temporal_ui_url is None


def test_the_environment_names_the_same_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://env@127.0.0.1:6543/app")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:27233")
    stack = StackSettings()
    assert stack.external_database_url == "postgresql://env@127.0.0.1:6543/app"
    assert stack.temporal_address == "127.0.0.1:27233"
