"""Container health checks of docker-compose.yml (our image has no curl):

python deploy/healthcheck.py http://127.0.0.1:8000/readyz   # 200 or unhealthy
python deploy/healthcheck.py worker                          # this container's worker polls its task queue
python deploy/healthcheck.py dispatcher                      # the dispatcher runs and its database answers
python deploy/healthcheck.py publisher                       # the publisher runs and its database answers
"""

from __future__ import annotations

import asyncio
import socket
import sys
import urllib.request
from datetime import timedelta
from pathlib import Path

import psycopg
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from infra.settings import Settings
from infra.temporal import connect


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return bool(response.status == 200)
    except OSError:
        return False


async def worker_polling() -> bool:
    settings = Settings()
    client = await connect(
        settings.temporal_address, settings.temporal_namespace, codec=settings.payload_codec()
    )
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=settings.temporal_namespace,
            task_queue=TaskQueue(name=settings.task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        ),
        timeout=timedelta(seconds=3),
    )
    # The SDK's default worker identity is `<pid>@<hostname>`; the hostname is this container's.
    suffix = f"@{socket.gethostname()}"
    return any(poller.identity.endswith(suffix) for poller in response.pollers)


def process_running(name: str) -> bool:
    # The container's first process is the named one; it is healthy while it runs and can reach PostgreSQL.
    if name.encode() not in Path("/proc/1/cmdline").read_bytes():
        return False
    url = Settings().database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else ""
    if target == "worker":
        healthy = asyncio.run(worker_polling())
    elif target in ("dispatcher", "publisher"):
        healthy = process_running(target)
    else:
        healthy = http_ok(target)
    sys.exit(0 if healthy else 1)
