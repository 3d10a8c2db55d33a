"""User tokens from an identity provider: RS256 and ES256 tokens verified against a JWKS the test serves
on 127.0.0.1, through the real app. Good tokens see their own user's data; each bad one is a 401 problem
that names the failed check without echoing what was expected; the key set is fetched once, fetched again
for a rotated key or when it is old, and never on the event loop."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from infra.db import make_session_factory
from tests.api.support import api_client, api_settings, assert_problem, user
from tests.fixtures.jwks import LocalJwks, SigningKey
from tests.support.factories import make_contract, make_devices, make_product

ISSUER = "https://id.example.test/realms/iot"
AUDIENCE = "iot-billing-api"
SUBS = "/v1/subscriptions"


@dataclass(frozen=True)
class Keys:
    rsa: SigningKey
    ec: SigningKey
    stranger: SigningKey  # never published


@dataclass(frozen=True)
class World:
    alice_sub: str
    bob_sub: str


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(rsa=SigningKey.rsa(), ec=SigningKey.ec(), stranger=SigningKey.rsa())


@pytest.fixture(scope="module")
def world(module_engine: Engine) -> World:
    sessions = make_session_factory(module_engine)
    product = make_product(sessions)
    [alices] = make_devices(sessions, owner="alice", count=1)
    [bobs] = make_devices(sessions, owner="bob", count=1)
    return World(
        alice_sub=make_contract(sessions, user_id="alice", product_id=product, devices=[alices]),
        bob_sub=make_contract(sessions, user_id="bob", product_id=product, devices=[bobs]),
    )


@pytest.fixture
def jwks(local_jwks: LocalJwks, keys: Keys) -> LocalJwks:
    local_jwks.publish(keys.rsa, keys.ec)
    return local_jwks


# Opens a client on a fresh app; keyword arguments override its settings.
Connect = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def connect(
    jwks: LocalJwks,
    module_engine: Engine,
    module_task_queue: str,
    dev_server_env: WorkflowEnvironment,
    world: World,
) -> Connect:
    """A client on a fresh app (so a fresh key cache) that trusts the local JWKS."""

    @asynccontextmanager
    async def client(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        settings = api_settings(
            module_task_queue,
            user_token_jwks_url=jwks.url,
            user_token_issuer=ISSUER,
            user_token_audience=AUDIENCE,
            **overrides,
        )
        app = create_app(settings, temporal_client=dev_server_env.client, engine=module_engine)
        async with api_client(app) as http:
            yield http

    return client


def claims(**overrides: Any) -> dict[str, Any]:
    """Alice's claims as the provider issues them; an override of None leaves the claim out."""
    now = datetime.now(UTC)
    base: dict[str, Any] = {
        "sub": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge_hs256(secret: bytes, kid: str) -> str:
    """An HS256 token whose HMAC key is the provider's public key: the algorithm-confusion attack. Built
    by hand, because PyJWT refuses to use a PEM key as an HMAC secret."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = _b64(json.dumps(claims(iat=None, exp=int(datetime.now(UTC).timestamp()) + 300)).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


async def own_subscriptions(http: httpx.AsyncClient, token: str) -> list[str]:
    response = await http.get(SUBS, headers=bearer(token))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_provider_token_sees_only_its_users_subscriptions(
    connect: Connect, keys: Keys, world: World, algorithm: str
) -> None:
    key = keys.rsa if algorithm == "RS256" else keys.ec
    async with connect() as http:
        assert await own_subscriptions(http, key.sign(claims())) == [world.alice_sub]
        assert await own_subscriptions(http, key.sign(claims(sub="bob"))) == [world.bob_sub]
        response = await http.get(f"{SUBS}/{world.bob_sub}", headers=bearer(key.sign(claims())))
        assert_problem(response, 404, "subscription-not-found")


async def test_demo_tokens_still_pass_beside_the_provider(connect: Connect, world: World) -> None:
    async with connect() as http:
        response = await http.get(SUBS, headers=user("alice"))
        assert response.status_code == 200, response.text
        assert [item["id"] for item in response.json()["items"]] == [world.alice_sub]


async def test_clock_skew_within_the_leeway_passes(connect: Connect, keys: Keys, world: World) -> None:
    now = datetime.now(UTC)
    async with connect(user_token_leeway_seconds=60) as http:
        late = keys.rsa.sign(claims(iat=now - timedelta(minutes=5), exp=now - timedelta(seconds=20)))
        early = keys.ec.sign(claims(iat=now + timedelta(seconds=20), nbf=now + timedelta(seconds=20)))
        assert await own_subscriptions(http, late) == [world.alice_sub]
        assert await own_subscriptions(http, early) == [world.alice_sub]


@dataclass(frozen=True)
class Bad:
    name: str
    token: Callable[[Keys], str]
    slug: str
    detail: str


def _ago(seconds: int) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


BAD = [
    Bad(
        "wrong issuer",
        lambda k: k.rsa.sign(claims(iss="https://id.example.test/realms/other")),
        "invalid-token",
        "the token's issuer is not accepted",
    ),
    Bad(
        "wrong audience",
        lambda k: k.ec.sign(claims(aud="another-service")),
        "invalid-token",
        "the token is not meant for this service (audience)",
    ),
    Bad(
        "no audience", lambda k: k.rsa.sign(claims(aud=None)), "invalid-token", "the token has no `aud` claim"
    ),
    Bad("no issuer", lambda k: k.rsa.sign(claims(iss=None)), "invalid-token", "the token has no `iss` claim"),
    Bad("no expiry", lambda k: k.rsa.sign(claims(exp=None)), "invalid-token", "the token has no `exp` claim"),
    Bad(
        "unknown key id",
        lambda k: k.stranger.sign(claims()),
        "invalid-token",
        "the token's signing key (kid) is not one the identity provider publishes",
    ),
    Bad(
        "no key id",
        lambda k: k.rsa.sign(claims(), kid=""),
        "invalid-token",
        "the token names no signing key (kid)",
    ),
    Bad(
        "alg none",
        lambda k: jwt.encode(claims(), None, algorithm="none", headers={"kid": k.rsa.kid}),
        "invalid-token",
        "the token's signing algorithm is not accepted",
    ),
    Bad(
        "an algorithm the settings leave out",
        lambda k: k.rsa.sign(claims(), algorithm="RS384"),
        "invalid-token",
        "the token's signing algorithm is not accepted",
    ),
    Bad(
        "expired beyond the leeway",
        lambda k: k.rsa.sign(claims(iat=_ago(600), exp=_ago(120))),
        "token-expired",
        "the token has expired",
    ),
    Bad(
        "not valid yet beyond the leeway",
        lambda k: k.ec.sign(claims(nbf=_ago(-300))),
        "invalid-token",
        "the token is not valid yet",
    ),
    Bad(
        "signed by another key under a published key id",
        lambda k: k.stranger.sign(claims(), kid=k.rsa.kid),
        "invalid-token",
        "the token's signature does not verify",
    ),
    Bad(
        "an EC signature claiming the RSA key",
        lambda k: k.ec.sign(claims(), kid=k.rsa.kid),
        "invalid-token",
        "the token's algorithm does not match its signing key",
    ),
    Bad(
        "HS256 keyed with the provider's public key",
        lambda k: forge_hs256(k.rsa.public_pem(), k.rsa.kid),
        "invalid-token",
        "the token's signature does not verify",
    ),
]


@pytest.mark.parametrize("case", BAD, ids=[case.name for case in BAD])
async def test_bad_provider_token_is_a_401_problem(connect: Connect, keys: Keys, case: Bad) -> None:
    async with connect(user_token_leeway_seconds=60) as http:
        response = await http.get(SUBS, headers=bearer(case.token(keys)))
    body = assert_problem(response, 401, case.slug, field="Authorization")
    assert body["detail"] == case.detail
    assert response.headers["WWW-Authenticate"].startswith(
        'Bearer realm="iot-billing", error="invalid_token"'
    )
    # What the server expects is not the caller's to learn.
    assert ISSUER not in response.text and AUDIENCE not in response.text


async def test_keys_are_fetched_once_for_many_requests(
    connect: Connect, jwks: LocalJwks, keys: Keys, world: World
) -> None:
    async with connect() as http:
        for _ in range(10):
            for key in (keys.rsa, keys.ec):
                assert await own_subscriptions(http, key.sign(claims())) == [world.alice_sub]
    assert jwks.hits == 1


async def test_a_rotated_key_is_fetched_when_a_token_names_it(
    connect: Connect, jwks: LocalJwks, keys: Keys, world: World
) -> None:
    async with connect(user_token_jwks_refresh_cooldown_seconds=0) as http:
        assert await own_subscriptions(http, keys.rsa.sign(claims())) == [world.alice_sub]
        rotated = SigningKey.rsa()
        jwks.publish(keys.rsa, keys.ec, rotated)
        assert await own_subscriptions(http, rotated.sign(claims())) == [world.alice_sub]
        assert await own_subscriptions(http, rotated.sign(claims())) == [world.alice_sub]
    assert jwks.hits == 2


async def test_an_unknown_key_id_is_refused_after_one_refetch(
    connect: Connect, jwks: LocalJwks, keys: Keys
) -> None:
    async with connect(user_token_jwks_refresh_cooldown_seconds=0) as http:
        assert (await http.get(SUBS, headers=bearer(keys.rsa.sign(claims())))).status_code == 200
        response = await http.get(SUBS, headers=bearer(keys.stranger.sign(claims())))
    assert_problem(response, 401, "invalid-token")
    assert jwks.hits == 2


async def test_unknown_key_ids_within_the_cooldown_fetch_nothing_more(
    connect: Connect, jwks: LocalJwks
) -> None:
    async with connect(user_token_jwks_refresh_cooldown_seconds=30) as http:
        for _ in range(5):
            response = await http.get(SUBS, headers=bearer(SigningKey.ec().sign(claims())))
            assert_problem(response, 401, "invalid-token")
    assert jwks.hits == 1


async def test_an_old_key_set_is_fetched_again(connect: Connect, jwks: LocalJwks, keys: Keys) -> None:
    async with connect(user_token_jwks_cache_seconds=0.2) as http:
        assert (await http.get(SUBS, headers=bearer(keys.rsa.sign(claims())))).status_code == 200
        await asyncio.sleep(0.3)
        assert (await http.get(SUBS, headers=bearer(keys.rsa.sign(claims())))).status_code == 200
    assert jwks.hits == 2


async def test_a_provider_outage_is_a_503_until_keys_were_had_then_they_still_verify(
    connect: Connect, jwks: LocalJwks, keys: Keys
) -> None:
    token = keys.rsa.sign(claims())
    async with connect(user_token_jwks_cache_seconds=0.2, user_token_jwks_refresh_cooldown_seconds=0) as http:
        jwks.failing = True
        response = await http.get(SUBS, headers=bearer(token))
        assert_problem(response, 503, "identity-provider-unavailable")
        assert response.headers["Retry-After"] == "1"
        jwks.failing = False
        assert (await http.get(SUBS, headers=bearer(token))).status_code == 200
        await asyncio.sleep(0.3)
        jwks.failing = True
        assert (await http.get(SUBS, headers=bearer(token))).status_code == 200
    assert jwks.hits == 3


async def test_a_key_fetch_leaves_the_event_loop_free(connect: Connect, jwks: LocalJwks, keys: Keys) -> None:
    jwks.gate.clear()
    async with connect() as http:
        waiting = asyncio.create_task(http.get(SUBS, headers=bearer(keys.ec.sign(claims()))))
        assert await asyncio.to_thread(jwks.asked.wait, 5)
        # The key set's answer is held back, yet the app still answers other requests meanwhile.
        assert (await http.get("/healthz")).status_code == 200
        assert not waiting.done()
        jwks.gate.set()
        assert (await waiting).status_code == 200
