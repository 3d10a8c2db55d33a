"""Who is calling: the admin (a shared bearer token) or a user (a bearer JWT, HS256, `sub` = user id).

Route dependencies: `AdminDep`, `UserDep` and `CallerDep` (either). A missing, malformed or expired token
is a 401 problem with `WWW-Authenticate`; the wrong kind of caller is a 403."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import SettingsDep
from api.problems import (
    ADMIN_REQUIRED,
    AUTHENTICATION_REQUIRED,
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
    description="The admin token, or a user JWT (HS256, `sub` = user id, `exp` required).",
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


def authenticate(settings: Settings, token: str) -> Caller:
    admin_token = settings.admin_token.get_secret_value()
    if hmac.compare_digest(token.encode(), admin_token.encode()):
        return Admin()
    try:
        claims = jwt.decode(
            token,
            settings.user_token_secret.get_secret_value(),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise _unauthorized(TOKEN_EXPIRED("the token has expired", field="Authorization")) from None
    except jwt.InvalidTokenError:
        raise _unauthorized(INVALID_TOKEN("the token is not valid", field="Authorization")) from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not _USER_ID.match(subject):
        raise _unauthorized(INVALID_TOKEN("the token's subject is not a user id", field="Authorization"))
    return User(subject)


def _caller(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise _unauthorized(
            AUTHENTICATION_REQUIRED("send Authorization: Bearer <token>", field="Authorization")
        )
    return authenticate(settings, credentials.credentials)


def _admin(caller: Annotated[Caller, Depends(_caller)]) -> Admin:
    if not isinstance(caller, Admin):
        raise ADMIN_REQUIRED("this call needs the admin token", field="Authorization")
    return caller


def _user(caller: Annotated[Caller, Depends(_caller)]) -> User:
    if not isinstance(caller, User):
        raise USER_REQUIRED("this call needs a user token", field="Authorization")
    return caller


CallerDep = Annotated[Caller, Depends(_caller)]
AdminDep = Annotated[Admin, Depends(_admin)]
UserDep = Annotated[User, Depends(_user)]
