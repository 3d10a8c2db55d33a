"""The identity provider's settings: complete or absent, fetched over TLS, asymmetric algorithms only."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from infra.settings import Settings

JWKS = "https://id.example.test/realms/iot/protocol/openid-connect/certs"
PROVIDER = {
    "user_token_jwks_url": JWKS,
    "user_token_issuer": "https://id.example.test",
    "user_token_audience": "api",
}


def test_no_provider_by_default() -> None:
    settings = Settings()
    assert settings.user_token_jwks_url is None
    assert settings.user_token_algorithms == ("RS256", "ES256")
    assert settings.user_token_leeway_seconds == 60


def test_an_empty_variable_leaves_the_provider_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JWKS_URL", "ISSUER", "AUDIENCE"):
        monkeypatch.setenv(f"IOT_BILLING_USER_TOKEN_{name}", "")
    assert Settings().user_token_jwks_url is None


def test_the_environment_names_the_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOT_BILLING_USER_TOKEN_JWKS_URL", JWKS)
    monkeypatch.setenv("IOT_BILLING_USER_TOKEN_ISSUER", "https://id.example.test")
    monkeypatch.setenv("IOT_BILLING_USER_TOKEN_AUDIENCE", "api")
    monkeypatch.setenv("IOT_BILLING_USER_TOKEN_ALGORITHMS", "ES256, PS256")
    monkeypatch.setenv("IOT_BILLING_USER_TOKEN_LEEWAY_SECONDS", "30")
    settings = Settings()
    assert settings.user_token_algorithms == ("ES256", "PS256")
    assert settings.user_token_leeway_seconds == 30


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"user_token_jwks_url": JWKS}, "needs IOT_BILLING_USER_TOKEN_ISSUER and _AUDIENCE"),
        ({**PROVIDER, "user_token_audience": None}, "needs IOT_BILLING_USER_TOKEN_ISSUER and _AUDIENCE"),
        ({"user_token_issuer": "https://id.example.test"}, "need IOT_BILLING_USER_TOKEN_JWKS_URL"),
        ({**PROVIDER, "user_token_jwks_url": "http://id.example.test/certs"}, "must be an https:// URL"),
        ({**PROVIDER, "user_token_jwks_url": "file:///etc/keys.json"}, "must be an https:// URL"),
        ({**PROVIDER, "user_token_algorithms": "RS256,HS256"}, "not an asymmetric signing algorithm: HS256"),
        ({**PROVIDER, "user_token_algorithms": "none"}, "not an asymmetric signing algorithm: none"),
        ({**PROVIDER, "user_token_algorithms": " , "}, "name at least one signing algorithm"),
        ({**PROVIDER, "user_token_leeway_seconds": 3600}, "less than or equal to 300"),
    ],
)
def test_a_bad_provider_setting_is_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**overrides)


def test_a_provider_on_this_host_may_skip_tls() -> None:
    settings = Settings(**{**PROVIDER, "user_token_jwks_url": "http://127.0.0.1:8080/certs"})
    assert settings.user_token_jwks_url == "http://127.0.0.1:8080/certs"
