"""The dispatcher as a real subprocess, for tests that kill it or the database under it."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.api.support import ADMIN_TOKEN, PAYLOAD_KEYS, USER_SECRET
from tests.reliability.processes import ManagedProcess, child_environment


def dispatcher_command(database_url: str, log_path: Path) -> ManagedProcess:
    """`iot-billing dispatcher` on `database_url`, with a short retry schedule."""
    env = child_environment(
        DATABASE_URL=database_url,
        IOT_BILLING_ENVIRONMENT="test",
        IOT_BILLING_ADMIN_TOKEN=ADMIN_TOKEN,
        IOT_BILLING_USER_TOKEN_SECRET=USER_SECRET,
        IOT_BILLING_PAYLOAD_KEYS=PAYLOAD_KEYS,
        IOT_BILLING_WEBHOOK_ALLOW_PRIVATE="true",
        IOT_BILLING_WEBHOOK_TIMEOUT_SECONDS="2",
        IOT_BILLING_WEBHOOK_RETRY_SCHEDULE_SECONDS="0.2,0.3,0.5,1,1,1,1,1",
        IOT_BILLING_WEBHOOK_RETRY_JITTER="0",
        IOT_BILLING_DISPATCHER_POLL_SECONDS="0.2",
        IOT_BILLING_LOG_FORMAT="json",
    )
    return ManagedProcess(
        name="dispatcher",
        command=[sys.executable, "-m", "cli.main", "dispatcher"],
        env=env,
        log_path=log_path,
    )
