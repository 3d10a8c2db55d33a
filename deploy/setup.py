"""One-shot setup job of docker-compose.yml: migrate the engine's database, make sure the Temporal namespace
exists, register our search attributes. Every step is idempotent; the job may run on every `up`.

Run as `python deploy/setup.py` in our image (DATABASE_URL, TEMPORAL_ADDRESS and IOT_BILLING_* set)."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from infra.migrate import upgrade
from infra.settings import Settings
from infra.temporal import connect, register_search_attributes
from workflows import search_attributes

CONNECT_TIMEOUT_SECONDS = 120.0
RETENTION = timedelta(days=7)
NAMESPACE_PROPAGATION_SECONDS = 30


async def connect_with_retry(settings: Settings) -> Client:
    deadline = time.monotonic() + CONNECT_TIMEOUT_SECONDS
    while True:
        try:
            # The namespace may not exist yet: connect in the system one.
            return await connect(settings.temporal_address, "temporal-system", codec=None)
        except RuntimeError as error:
            if time.monotonic() > deadline:
                raise SystemExit(f"Temporal at {settings.temporal_address} not reachable: {error}") from None
            await asyncio.sleep(2)


async def ensure_namespace(client: Client, namespace: str) -> None:
    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
        return
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise
    retention = Duration()
    retention.FromTimedelta(RETENTION)
    try:
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(namespace=namespace, workflow_execution_retention_period=retention)
        )
    except RPCError as refused:
        # Another setup run registered it meanwhile.
        if refused.status is not RPCStatusCode.ALREADY_EXISTS:
            raise
    # A new namespace takes a moment to reach every frontend's cache.
    for _ in range(NAMESPACE_PROPAGATION_SECONDS):
        try:
            await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
            return
        except RPCError:
            await asyncio.sleep(1)


async def register_with_retry(client: Client, namespace: str) -> None:
    # The operator service learns of a new namespace a few seconds after the frontend does.
    for _ in range(NAMESPACE_PROPAGATION_SECONDS):
        try:
            await register_search_attributes(client, search_attributes.ALL, namespace)
            return
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
        await asyncio.sleep(1)
    await register_search_attributes(client, search_attributes.ALL, namespace)


async def main() -> None:
    settings = Settings()
    upgrade(settings.database_url)
    print("database migrated", flush=True)
    client = await connect_with_retry(settings)
    await ensure_namespace(client, settings.temporal_namespace)
    print(f"namespace {settings.temporal_namespace} ready", flush=True)
    await register_with_retry(client, settings.temporal_namespace)
    print("search attributes registered", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
