"""User tokens from a production identity provider (Keycloak, Auth0, Cognito): signed with a key the
provider publishes as a JWKS, and checked for issuer, audience and expiry within a bounded clock skew.

PyJWT's `PyJWKClient` fetches the key set; `ProviderKeys` holds it. A token whose key is held verifies on
the event loop; only a fetch (first use, an expired set, a key id not seen yet) runs in a worker thread,
because the client's HTTP call blocks."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from typing import Any

import jwt
import structlog
from jwt import PyJWK, PyJWKClient, PyJWKSet
from starlette.concurrency import run_in_threadpool

from infra.settings import Settings

# A provider that does not answer within this long gets the request a 503 rather than a hung worker.
JWKS_TIMEOUT_SECONDS = 5.0

log = structlog.get_logger(__name__)


class MissingKeyId(jwt.InvalidTokenError):
    """The token names no key (`kid`), so no published key can be chosen for it."""


class UnknownKeyId(jwt.InvalidTokenError):
    """The token names a key the provider does not publish, even in a key set fetched again for it."""


class KeysUnavailable(Exception):
    """The provider's key set could not be fetched: the server's trouble, not the token's."""


def _signing_keys(jwk_set: PyJWKSet) -> dict[str, PyJWK]:
    return {key.key_id: key for key in jwk_set.keys if key.key_id and key.public_key_use in ("sig", None)}


class ProviderKeys:
    """The provider's signing keys by key id, fetched again when they are older than `lifespan` or when a
    token names an unknown key, but never twice within `cooldown` for an unknown key or after a failure."""

    def __init__(self, client: PyJWKClient, *, lifespan: float, cooldown: float) -> None:
        self._client = client
        self._lifespan = lifespan
        self._cooldown = cooldown
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = -math.inf
        self._failed_at = -math.inf
        # One fetch at a time: requests waiting on it then find the keys it brought.
        self._lock = threading.Lock()

    def held(self, kid: str) -> PyJWK | None:
        """The key if it is held and fresh; reads memory only, so it is safe on the event loop."""
        if time.monotonic() - self._fetched_at < self._lifespan:
            return self._keys.get(kid)
        return None

    def lookup(self, kid: str) -> PyJWK:
        """The key, fetching the set when due. Blocks: call it from a worker thread."""
        with self._lock:
            now = time.monotonic()
            fresh = now - self._fetched_at < self._lifespan
            if fresh and kid in self._keys:
                return self._keys[kid]
            failing = now - self._failed_at < self._cooldown
            if not failing and (not fresh or now - self._fetched_at >= self._cooldown):
                try:
                    self._keys = _signing_keys(self._client.get_jwk_set())
                    self._fetched_at = time.monotonic()
                except jwt.PyJWTError as error:
                    self._failed_at = time.monotonic()
                    failing = True
                    log.warning("identity provider keys not fetched", url=self._client.uri, error=str(error))
            # While the provider fails, the keys it published last still verify: an outage of the
            # provider should not log every user out.
            key = self._keys.get(kid)
        if key is not None:
            return key
        if failing:
            raise KeysUnavailable
        raise UnknownKeyId


class IdentityProvider:
    """Verifies the provider's tokens: a published key, an accepted algorithm, its issuer and audience."""

    def __init__(
        self,
        *,
        keys: ProviderKeys,
        issuer: str,
        audience: str,
        algorithms: tuple[str, ...],
        leeway_seconds: int,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self.algorithms = algorithms
        self._leeway = leeway_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> IdentityProvider | None:
        """The provider the settings name, or None when only the demo's HS256 tokens are accepted."""
        url, issuer, audience = (
            settings.user_token_jwks_url,
            settings.user_token_issuer,
            settings.user_token_audience,
        )
        if url is None or issuer is None or audience is None:
            return None
        # The client's own cache is off: `ProviderKeys` keeps the set, so the event loop can read it.
        client = PyJWKClient(url, cache_jwk_set=False, timeout=JWKS_TIMEOUT_SECONDS)
        keys = ProviderKeys(
            client,
            lifespan=settings.user_token_jwks_cache_seconds,
            cooldown=settings.user_token_jwks_refresh_cooldown_seconds,
        )
        return cls(
            keys=keys,
            issuer=issuer,
            audience=audience,
            algorithms=settings.user_token_algorithms,
            leeway_seconds=settings.user_token_leeway_seconds,
        )

    async def verify(self, token: str, header: Mapping[str, Any]) -> dict[str, Any]:
        """The token's claims. Raises `jwt.InvalidTokenError` (or a subclass above) for a bad token and
        `KeysUnavailable` when the provider's keys cannot be had."""
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise MissingKeyId
        key = self._keys.held(kid)
        if key is None:
            key = await run_in_threadpool(self._keys.lookup, kid)
        # Passing the PyJWK binds the algorithm to the key: a token claiming another algorithm than its
        # key's is refused, whatever `algorithms` allows.
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=list(self.algorithms),
            issuer=self._issuer,
            audience=self._audience,
            leeway=self._leeway,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
        return claims
