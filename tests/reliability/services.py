"""The processes the fault tests start, kill and restart: workers (`python -m cli.main worker`), a
file-backed Temporal dev server, and a sandbox gateway of the test's own."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from devstack.embedded_pg import database_url, ensure_database
from infra.temporal import connect, temporal_cli_path
from tests.fixtures.sandbox import SandboxGateway, free_port
from tests.reliability.processes import LogRegistry, ManagedProcess, child_environment, tail
from workflows.search_attributes import dev_server_flags

WORKER_READY = "worker started"
WORKER_START_SECONDS = 60.0
SERVER_START_SECONDS = 60.0


@dataclass(frozen=True)
class WorkerConfig:
    database_url: str
    temporal_address: str
    gateway_url: str
    task_queue: str
    gateway_timeout_seconds: float = 1.0


# Builds the WorkerConfig of one test; only the gateway timeout varies between tests.
WorkerConfigFor = Callable[..., WorkerConfig]


def start_worker(name: str, config: WorkerConfig, logs: LogRegistry) -> ManagedProcess:
    """A worker process exactly as deployed (`iot-billing worker`), configured through its environment."""
    worker = ManagedProcess(
        name=name,
        command=[sys.executable, "-m", "cli.main", "worker"],
        env=child_environment(
            DATABASE_URL=config.database_url,
            TEMPORAL_ADDRESS=config.temporal_address,
            IOT_BILLING_GATEWAY_URL=config.gateway_url,
            IOT_BILLING_GATEWAY_TIMEOUT_SECONDS=str(config.gateway_timeout_seconds),
            IOT_BILLING_TASK_QUEUE=config.task_queue,
            IOT_BILLING_DB_POOL_SIZE="4",
            IOT_BILLING_LOG_FORMAT="json",
        ),
        log_path=logs.path(name),
    )
    since = worker.log_size()
    worker.start()
    worker.wait_for_output(WORKER_READY, within=WORKER_START_SECONDS, since=since)
    return worker


@dataclass
class Workers:
    """The workers a test started, so the fixture can stop whichever are still running."""

    logs: LogRegistry
    started: list[ManagedProcess] = field(default_factory=list)

    def start(self, name: str, config: WorkerConfig) -> ManagedProcess:
        worker = start_worker(name, config, self.logs)
        self.started.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()


def server_address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


@dataclass
class FileBackedDevServer:
    """`temporal server start-dev` persisting to a SQLite file, so a restart keeps every workflow."""

    process: ManagedProcess
    port: int

    @classmethod
    def create(cls, directory: Path, logs: LogRegistry) -> FileBackedDevServer:
        port = free_port()
        command = [
            temporal_cli_path(),
            "server",
            "start-dev",
            "--headless",
            "--db-filename",
            str(directory / "temporal.db"),
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            *dev_server_flags(),
        ]
        process = ManagedProcess("temporal", command, child_environment(), logs.path("temporal"))
        return cls(process=process, port=port)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> Client:
        """Start the server and return a client once it answers (the same port every time)."""
        self.process.start()
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            with suppress(RuntimeError, RPCError):
                client = await connect(self.address, codec=None)
                if await client.service_client.check_health():
                    return client
            if time.monotonic() > deadline or not self.process.running:
                raise AssertionError(f"Temporal dev server not serving:\n{tail(self.process.log_path)}")
            await asyncio.sleep(0.3)

    def kill(self) -> None:
        self.process.kill()


def own_sandbox(
    pg_server_url: str, database: str, logs: LogRegistry, *, lost_response_delay: float = 3.0
) -> SandboxGateway:
    """A sandbox gateway with a database of its own: its ledger holds this test's charges and no others."""
    ensure_database(pg_server_url, database)
    port = free_port()
    return SandboxGateway(
        url=f"http://127.0.0.1:{port}",
        database_url=database_url(pg_server_url, database),
        lost_response_delay_seconds=lost_response_delay,
        port=port,
        log_path=logs.path("sandbox"),
    )
