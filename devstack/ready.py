"""Bounded waits of the dev stack: until a check passes, a watched child dies, a stop is requested, or the
deadline passes — whichever comes first."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta

import httpx
import psutil
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, DescribeTaskQueueRequest
from temporalio.client import Client

from devstack.process import ChildProcess, exit_status

POLL_SECONDS = 0.25
RPC_TIMEOUT = timedelta(seconds=2)
COMMAND_SHOWN = 120


class StopRequested(Exception):
    """Ctrl-C or SIGTERM arrived while the stack was starting."""


class ChildDied(Exception):
    def __init__(self, child: ChildProcess) -> None:
        super().__init__(f"{child.name} exited ({exit_status(child.returncode or 0)})")
        self.child = child


class NotReady(Exception):
    pass


def wait_until(
    check: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    stop: threading.Event,
    watch: ChildProcess | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if stop.is_set():
            raise StopRequested
        if watch is not None and watch.returncode is not None:
            raise ChildDied(watch)
        if check():
            return
        if time.monotonic() >= deadline:
            raise NotReady(f"{what} not ready after {timeout:.0f}s")
        stop.wait(POLL_SECONDS)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers bind: connections of a previous run lingering in TIME_WAIT do not block it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def port_holder(port: int) -> str | None:
    """Who listens on a TCP `port` on this machine, as `name (pid N: command line)`; None when that cannot
    be found (no listener, or a process of another user whose sockets we may not read)."""
    try:
        connections = psutil.net_connections(kind="inet")
    except psutil.Error:
        return None
    for connection in connections:
        address = connection.laddr
        if connection.pid is None or connection.status != psutil.CONN_LISTEN or not address:
            continue
        if address.port != port:
            continue
        try:
            process = psutil.Process(connection.pid)
            command = " ".join(" ".join(process.cmdline()).split())
            name = process.name()
        except psutil.Error:
            return f"pid {connection.pid}"
        # A long command line would bury the message; its head names the program well enough.
        if len(command) > COMMAND_SHOWN:
            command = command[: COMMAND_SHOWN - 1] + "…"
        return f"{name} (pid {connection.pid}: {command})"
    return None


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=2.0, follow_redirects=True).status_code == httpx.codes.OK
        except httpx.HTTPError:
            return False

    return check


def temporal_serving(address: str, namespace: str) -> Callable[[], bool]:
    """The frontend answers and the namespace exists."""

    async def probe() -> bool:
        client = await asyncio.wait_for(Client.connect(address, namespace=namespace), timeout=3)
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace), timeout=RPC_TIMEOUT
        )
        return True

    return _async_check(probe)


def worker_polling(address: str, namespace: str, task_queue: str, worker: ChildProcess) -> Callable[[], bool]:
    """Our worker process (the SDK's default identity is `<pid>@<host>`) polls the task queue."""

    async def probe() -> bool:
        client = await asyncio.wait_for(Client.connect(address, namespace=namespace), timeout=3)
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            ),
            timeout=RPC_TIMEOUT,
        )
        prefix = f"{worker.pid}@"
        return any(poller.identity.startswith(prefix) for poller in response.pollers)

    return _async_check(probe)


def _async_check(probe: Callable[[], Coroutine[None, None, bool]]) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return asyncio.run(probe())
        except Exception:
            return False

    return check
