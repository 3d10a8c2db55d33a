"""Who is calling: the admin (a shared bearer token) or a user (a bearer JWT, `sub` = user id).

User tokens are HS256 over the shared secret (the demo's) or, once an identity provider is configured,
RS256/ES256 tokens verified against its JWKS (`api.identity`). The token's `alg` header picks the path:
HS256 only ever meets the shared secret, and the provider's public keys only the algorithms allowed for
them, so neither can stand in for the other.

Route dependencies: `AdminDep`, `UserDep` and `CallerDep` (either), and `OperatorDep` for the codec
endpoints, which also takes the operator's session cookie (`api.operator_session`). A missing, malformed or
expired token is a 401 problem with `WWW-Authenticate`; the wrong kind of caller is a 403."""

from __future__ import annotations

import hmac
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api import operator_session
from api.deps import RuntimeDep
from api.identity import IdentityProvider, KeysUnavailable, MissingKeyId, UnknownKeyId
from api.problems import (
    ADMIN_REQUIRED,
    AUTHENTICATION_REQUIRED,
    IDENTITY_PROVIDER_UNAVAILABLE,
    INVALID_TOKEN,
    TOKEN_EXPIRED,
    USER_REQUIRED,
    Problem,
)
from infra.settings import Settings

ALGORITHM = "HS256"
_USER_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")
_REALM = 'Bearer realm="iot-billing"'

_bearer = HTTPBearer(
    auto_error=False,
    description=(
        "The admin token, or a user JWT (`sub` = user id, `exp` required): HS256 over the shared secret, or"
        " RS256/ES256 from the configured identity provider."
    ),
)

# What a rejected token is told: which check failed, never what was expected (issuer, audience, keys).
_REJECTIONS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.InvalidIssuerError, "the token's issuer is not accepted"),
    (jwt.InvalidAudienceError, "the token is not meant for this service (audience)"),
    (MissingKeyId, "the token names no signing key (kid)"),
    (UnknownKeyId, "the token's signing key (kid) is not one the identity provider publishes"),
    (jwt.InvalidAlgorithmError, "the token's algorithm does not match its signing key"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidIssuedAtError, "the token's issue time is in the future"),
    (jwt.DecodeError, "the token is not a well-formed JWT"),
)


@dataclass(frozen=True)
class Admin:
    """The operator or the device platform."""

    def may_access(self, owner_user_id: str) -> bool:
        return True


@dataclass(frozen=True)
class User:
    user_id: str

    def may_access(self, owner_user_id: str) -> bool:
        return owner_user_id == self.user_id


Caller = Admin | User


def issue_user_token(secret: str, user_id: str, ttl: timedelta) -> str:
    """A user token as the identity provider would issue it (for tests, demos and the dev stack)."""
    now = datetime.now(UTC)
    return jwt.encode({"sub": user_id, "iat": now, "exp": now + ttl}, secret, algorithm=ALGORITHM)


def _unauthorized(problem: Problem) -> Problem:
    challenge = _REALM
    if problem.kind is not AUTHENTICATION_REQUIRED:
        challenge += f', error="invalid_token", error_description="{problem.kind.title.lower()}"'
    problem.headers["WWW-Authenticate"] = challenge
    return problem


def _rejected(error: jwt.InvalidTokenError) -> Problem:
    if isinstance(error, jwt.ExpiredSignatureError):
        return _unauthorized(TOKEN_EXPIRED("the token has expired", field="Authorization"))
    if isinstance(error, jwt.MissingRequiredClaimError):
        return _unauthorized(INVALID_TOKEN(f"the token has no `{error.claim}` claim", field="Authorization"))
    detail = next((text for kind, text in _REJECTIONS if isinstance(error, kind)), "the token is not valid")
    return _unauthorized(INVALID_TOKEN(detail, field="Authorization"))


def _demo_claims(settings: Settings, token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token,
        settings.user_token_secret.get_secret_value(),
        algorithms=[ALGORITHM],
        options={"require": ["exp", "sub"]},
    )
    return claims


async def authenticate(settings: Settings, provider: IdentityProvider | None, token: str) -> Caller:
    admin_token = settings.admin_token.get_secret_value()
    if hmac.compare_digest(token.encode(), admin_token.encode()):
        return Admin()
    try:
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        if algorithm == ALGORITHM:
            claims = _demo_claims(settings, token)
        elif provider is not None and algorithm in provider.algorithms:
            claims = await provider.verify(token, header)
        else:
            raise _unauthorized(
                INVALID_TOKEN("the token's signing algorithm is not accepted", field="Authorization")
            )
    except jwt.InvalidTokenError as error:
        raise _rejected(error) from None
    except KeysUnavailable:
        # No fetch is tried again before the cooldown has passed, so asking sooner cannot succeed.
        retry_after = max(1, math.ceil(settings.user_token_jwks_refresh_cooldown_seconds))
        raise IDENTITY_PROVIDER_UNAVAILABLE(
            "the identity provider's signing keys cannot be fetched now; retry shortly",
            headers={"Retry-After": str(retry_after)},
        ) from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not _USER_ID.match(subject):
        raise _unauthorized(INVALID_TOKEN("the token's subject is not a user id", field="Authorization"))
    return User(subject)


async def _caller(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise _unauthorized(
            AUTHENTICATION_REQUIRED("send Authorization: Bearer <token>", field="Authorization")
        )
    return await authenticate(runtime.settings, runtime.identity, credentials.credentials)


def _admin(caller: Annotated[Caller, Depends(_caller)]) -> Admin:
    if not isinstance(caller, Admin):
        raise ADMIN_REQUIRED("this call needs the admin token", field="Authorization")
    return caller


def _user(caller: Annotated[Caller, Depends(_caller)]) -> User:
    if not isinstance(caller, User):
        raise USER_REQUIRED("this call needs a user token", field="Authorization")
    return caller


async def _operator(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Admin:
    session = request.cookies.get(operator_session.COOKIE)
    if credentials is None and session is not None:
        admin_token = runtime.settings.admin_token.get_secret_value()
        if operator_session.is_valid(admin_token, session, datetime.now(UTC)):
            return Admin()
        raise _unauthorized(
            INVALID_TOKEN(
                "the operator session has expired or was signed by another admin token; sign in again",
                field=operator_session.COOKIE,
            )
        )
    return _admin(await _caller(runtime, credentials))


CallerDep = Annotated[Caller, Depends(_caller)]
OperatorDep = Annotated[Admin, Depends(_operator)]
AdminDep = Annotated[Admin, Depends(_admin)]
UserDep = Annotated[User, Depends(_user)]
