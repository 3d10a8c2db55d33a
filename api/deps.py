"""What routes get injected: settings, the database session factory, the Temporal client and the identity
provider that user tokens may come from.

They live on `app.state.runtime`, filled by `create_app` (when given) or by the lifespan (when built)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy import Engine
from temporalio.client import Client

from api.identity import IdentityProvider
from api.problems import NOT_READY
from infra.db import SessionFactory, make_session_factory
from infra.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine | None = None
    temporal: Client | None = None
    # Built with the runtime and kept with it: it holds the provider's keys between requests.
    identity: IdentityProvider | None = None
    _sessions: SessionFactory | None = field(default=None, repr=False)

    @property
    def sessions(self) -> SessionFactory:
        if self.engine is None:
            raise NOT_READY("the database engine is not ready yet")
        if self._sessions is None:
            self._sessions = make_session_factory(self.engine)
        return self._sessions

    @property
    def client(self) -> Client:
        if self.temporal is None:
            raise NOT_READY("the Temporal client is not connected yet")
        return self.temporal


def get_runtime(request: Request) -> Runtime:
    return cast(Runtime, request.app.state.runtime)


def get_settings(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Settings:
    return runtime.settings


def get_sessions(runtime: Annotated[Runtime, Depends(get_runtime)]) -> SessionFactory:
    return runtime.sessions


def get_temporal(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Client:
    return runtime.client


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionsDep = Annotated[SessionFactory, Depends(get_sessions)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
